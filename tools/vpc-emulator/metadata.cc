#include "metadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "addr.h"

namespace weft::emulator {

namespace {

MetadataReply text(std::string body) {
  return MetadataReply{200, std::move(body), "text/plain"};
}
MetadataReply not_found() {
  return MetadataReply{404, "Not Found", "text/plain"};
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string rfc3339(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

} // namespace

MetadataService::MetadataService(VpcService& vpc, KeyRing& keys,
                                 std::function<std::int64_t()> unix_now, MetadataOptions options)
    : vpc_(vpc), keys_(keys), unix_now_(std::move(unix_now)), options_(std::move(options)) {}

MetadataReply MetadataService::handle(const std::string& path, const std::string& remote_ip,
                                      const std::string& header_ip) {
  if (path == "/") {
    return text("1.0\n2017-09-19\nlatest\nmeta-data");
  }
  if (path == "/latest" || path == "/latest/") {
    return text("meta-data/");
  }
  static const std::string kPrefix = "/latest/meta-data";
  if (path.rfind(kPrefix, 0) != 0) {
    return not_found();
  }
  std::string rest = path.substr(kPrefix.size());
  if (!rest.empty() && rest[0] != '/') {
    return not_found();
  }
  if (!rest.empty()) {
    rest.erase(0, 1);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.pop_back(); // a directory answers with or without the trailing slash
  }

  std::string ip = remote_ip;
  if (options_.trust_instance_header && !header_ip.empty()) {
    ip = header_ip;
  }
  auto instance = vpc_.instance_by_ip(ip);
  if (!instance && !options_.default_instance_ip.empty()) {
    instance = vpc_.instance_by_ip(options_.default_instance_ip);
  }
  if (!instance) {
    return MetadataReply{404, fmt::format("no instance has the private IP {}", ip), "text/plain"};
  }
  const Instance& i = *instance;
  auto subnet = vpc_.subnet(i.subnet_id);

  if (rest.empty()) {
    std::string listing = "instance-id\ninstance-name\nlocal-ipv4\nmac\nnetwork/\nplacement/\n";
    if (!i.public_ip.empty()) {
      listing += "public-ipv4\n";
    }
    return text(listing + "uuid\ncam/\napp-id");
  }
  if (rest == "instance-id") {
    return text(i.id);
  }
  if (rest == "instance-name") {
    return text(i.name);
  }
  if (rest == "uuid") {
    return text(i.uuid);
  }
  if (rest == "local-ipv4") {
    return text(i.private_ip);
  }
  if (rest == "public-ipv4") {
    return i.public_ip.empty() ? not_found() : text(i.public_ip);
  }
  if (rest == "mac") {
    return text(i.mac);
  }
  if (rest == "app-id") {
    return text(vpc_.snapshot().app_id);
  }
  if (rest == "placement") {
    return text("region\nzone");
  }
  if (rest == "placement/region") {
    return text(vpc_.region());
  }
  if (rest == "placement/zone") {
    return text(i.zone);
  }
  if (rest == "network") {
    return text("interfaces/");
  }
  if (rest == "network/interfaces") {
    return text("macs/");
  }
  static const std::string kMacs = "network/interfaces/macs";
  if (rest == kMacs) {
    return text(i.mac + "/");
  }
  if (rest.rfind(kMacs + "/", 0) == 0) {
    std::string tail = rest.substr(kMacs.size() + 1);
    std::string mac = tail.substr(0, tail.find('/'));
    if (upper(mac) != i.mac) {
      return not_found();
    }
    std::string leaf = tail.size() > mac.size() ? tail.substr(mac.size() + 1) : "";
    if (leaf.empty()) {
      return text("local-ipv4s/\nmac\nprimary-local-ipv4\npublic-ipv4s\nsubnet-id\nvpc-id");
    }
    if (leaf == "mac") {
      return text(i.mac);
    }
    if (leaf == "primary-local-ipv4") {
      return text(i.private_ip);
    }
    if (leaf == "public-ipv4s") {
      return i.public_ip.empty() ? not_found() : text(i.public_ip);
    }
    if (leaf == "vpc-id") {
      return text(i.vpc_id);
    }
    if (leaf == "subnet-id") {
      return text(i.subnet_id);
    }
    if (leaf == "local-ipv4s") {
      return text(i.private_ip + "/");
    }
    std::string ip_prefix = "local-ipv4s/" + i.private_ip;
    if (leaf == ip_prefix) {
      std::string listing = "gateway\nlocal-ipv4\n";
      if (!i.public_ip.empty()) {
        listing += "public-ipv4\npublic-ipv4-mode\n";
      }
      return text(listing + "subnet-mask");
    }
    if (leaf.rfind(ip_prefix + "/", 0) == 0) {
      std::string field = leaf.substr(ip_prefix.size() + 1);
      auto cidr = subnet ? parse_cidr(subnet->cidr) : std::nullopt;
      if (field == "local-ipv4") {
        return text(i.private_ip);
      }
      if (field == "gateway" && cidr) {
        return text(format_ipv4(cidr->network + 1));
      }
      if (field == "subnet-mask" && cidr) {
        return text(format_ipv4(cidr->mask()));
      }
      if (field == "public-ipv4" && !i.public_ip.empty()) {
        return text(i.public_ip);
      }
      if (field == "public-ipv4-mode" && !i.public_ip.empty()) {
        return text("NAT");
      }
    }
    return not_found();
  }
  if (rest == "cam") {
    return text("security-credentials/");
  }
  static const std::string kCreds = "cam/security-credentials";
  if (rest == kCreds) {
    return i.cam_role.empty() ? not_found() : text(i.cam_role);
  }
  if (rest.rfind(kCreds + "/", 0) == 0) {
    std::string role = rest.substr(kCreds.size() + 1);
    if (i.cam_role.empty() || role != i.cam_role) {
      return not_found();
    }
    TemporaryCredential c = keys_.role_credential(i.id, role, unix_now_());
    nlohmann::json j = {{"TmpSecretId", c.secret_id},
                        {"TmpSecretKey", c.secret_key},
                        {"ExpiredTime", c.expired_time},
                        {"Expiration", rfc3339(c.expired_time)},
                        {"Token", c.token},
                        {"Code", "Success"}};
    return MetadataReply{200, j.dump(), "application/json"};
  }
  return not_found();
}

} // namespace weft::emulator
