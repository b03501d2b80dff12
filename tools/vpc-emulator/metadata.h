#pragma once
// The instance metadata service (http://metadata.tencentyun.com/latest/meta-data/...): plain-text
// answers about the instance that asks, chosen by the request's source address, and the CAM role's
// temporary credentials that the API then accepts with X-TC-Token.

#include <functional>
#include <optional>
#include <string>

#include "key_ring.h"
#include "vpc_service.h"

namespace weft::emulator {

struct MetadataOptions {
  // Accept X-Emulator-Instance-Ip to say which instance asks (tests over loopback).
  bool trust_instance_header = false;
  // The instance IP to answer for when the source address matches no instance.
  std::string default_instance_ip;
};

struct MetadataReply {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
};

class MetadataService {
public:
  MetadataService(VpcService& vpc, KeyRing& keys, std::function<std::int64_t()> unix_now,
                  MetadataOptions options);

  // `path` is the URL path; `header_ip` the X-Emulator-Instance-Ip value or empty.
  MetadataReply handle(const std::string& path, const std::string& remote_ip,
                       const std::string& header_ip);

private:
  VpcService& vpc_;
  KeyRing& keys_;
  std::function<std::int64_t()> unix_now_;
  MetadataOptions options_;
};

} // namespace weft::emulator
