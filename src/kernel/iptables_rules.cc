#include "kernel/iptables_rules.h"

#include <algorithm>

namespace weft::kernel {
namespace {

constexpr const char* kMasqComment = "flanneld masq";
constexpr const char* kForwardComment = "flanneld forward";

bool is_ours(const std::string& chain) {
  return chain == kMasqChain || chain == kForwardChain;
}

std::vector<std::string> tokens(std::initializer_list<std::string> parts) {
  return parts;
}

std::string quote(const std::string& token) {
  if (token.find_first_of(" \t\"") == std::string::npos && !token.empty()) {
    return token;
  }
  std::string out = "\"";
  for (char c : token) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

std::vector<std::string> tables_in_order(const std::vector<IptablesRule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) {
    if (std::find(out.begin(), out.end(), r.table) == out.end()) {
      out.push_back(r.table);
    }
  }
  return out;
}

} // namespace

std::vector<IptablesRule> masq_rules(const std::string& cluster, const std::string& pod, bool ipv6,
                                     bool random_fully) {
  const std::string multicast = ipv6 ? "ff00::/8" : "224.0.0.0/4";
  auto masq = [&](std::vector<std::string> spec) {
    spec.insert(spec.end(), {"-m", "comment", "--comment", kMasqComment, "-j", "MASQUERADE"});
    if (random_fully) {
      spec.push_back("--random-fully");
    }
    return IptablesRule{"nat", kMasqChain, std::move(spec)};
  };
  auto ret = [&](std::vector<std::string> spec) {
    spec.insert(spec.end(), {"-m", "comment", "--comment", kMasqComment, "-j", "RETURN"});
    return IptablesRule{"nat", kMasqChain, std::move(spec)};
  };
  return {
      IptablesRule{"nat", "POSTROUTING",
                   tokens({"-m", "comment", "--comment", kMasqComment, "-j", kMasqChain})},
      ret({"-m", "mark", "--mark", kKubeProxyMark}),
      ret({"-s", pod, "-d", cluster}),
      ret({"-s", cluster, "-d", pod}),
      ret({"!", "-s", cluster, "-d", pod}),
      masq({"-s", cluster, "!", "-d", multicast}),
      masq({"!", "-s", cluster, "-d", cluster}),
  };
}

std::vector<IptablesRule> forward_rules(const std::string& cluster) {
  return {
      IptablesRule{"filter", "FORWARD",
                   tokens({"-m", "comment", "--comment", kForwardComment, "-j", kForwardChain})},
      IptablesRule{
          "filter", kForwardChain,
          tokens({"-s", cluster, "-m", "comment", "--comment", kForwardComment, "-j", "ACCEPT"})},
      IptablesRule{
          "filter", kForwardChain,
          tokens({"-d", cluster, "-m", "comment", "--comment", kForwardComment, "-j", "ACCEPT"})},
  };
}

std::string rule_line(const IptablesRule& rule, std::string_view action) {
  std::string out(action);
  out += ' ';
  out += rule.chain;
  for (const auto& t : rule.spec) {
    out += ' ';
    out += quote(t);
  }
  return out;
}

SavedTables parse_iptables_save(std::string_view text) {
  SavedTables out;
  SavedTable* current = nullptr;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (line[0] == '*') {
      current = &out[std::string(line.substr(1))];
    } else if (current == nullptr) {
      continue;
    } else if (line[0] == ':') {
      const auto space = line.find(' ');
      current->chains.insert(std::string(
          line.substr(1, space == std::string_view::npos ? std::string_view::npos : space - 1)));
    } else if (line.rfind("-A ", 0) == 0) {
      current->rules.emplace_back(line);
    } else if (line == "COMMIT") {
      current = nullptr;
    }
  }
  return out;
}

std::vector<IptablesRule> missing_rules(const std::vector<IptablesRule>& rules,
                                        const SavedTables& saved) {
  std::vector<IptablesRule> out;
  for (const auto& r : rules) {
    auto t = saved.find(r.table);
    const bool present = t != saved.end() &&
                         (!is_ours(r.chain) || t->second.chains.count(r.chain)) &&
                         std::find(t->second.rules.begin(), t->second.rules.end(), rule_line(r)) !=
                             t->second.rules.end();
    if (!present) {
      out.push_back(r);
    }
  }
  return out;
}

std::string restore_payload(const std::vector<IptablesRule>& rules, const SavedTables& saved) {
  std::string out;
  for (const auto& table : tables_in_order(rules)) {
    out += '*' + table + '\n';
    std::vector<std::string> declared;
    for (const auto& r : rules) {
      if (r.table == table && is_ours(r.chain) &&
          std::find(declared.begin(), declared.end(), r.chain) == declared.end()) {
        declared.push_back(r.chain);
        out += ':' + r.chain + " - [0:0]\n";
      }
    }
    auto t = saved.find(table);
    for (const auto& r : rules) {
      if (r.table != table || is_ours(r.chain) || t == saved.end()) {
        continue;
      }
      const std::string line = rule_line(r);
      const auto copies = std::count(t->second.rules.begin(), t->second.rules.end(), line);
      for (long i = 0; i < copies; ++i) {
        out += rule_line(r, "-D") + '\n';
      }
    }
    for (const auto& r : rules) {
      if (r.table == table) {
        out += rule_line(r) + '\n';
      }
    }
    out += "COMMIT\n";
  }
  return out;
}

std::string cleanup_payload(const SavedTables& saved) {
  std::string out;
  const std::pair<const char*, const char*> ours[] = {{"nat", kMasqChain},
                                                      {"filter", kForwardChain}};
  for (const auto& [table, chain] : ours) {
    auto t = saved.find(table);
    if (t == saved.end()) {
      continue;
    }
    std::string body;
    const std::string jump = std::string(" -j ") + chain;
    for (const auto& line : t->second.rules) {
      const bool in_our_chain = line.rfind(std::string("-A ") + chain + " ", 0) == 0;
      if (!in_our_chain && line.size() >= jump.size() &&
          line.compare(line.size() - jump.size(), jump.size(), jump) == 0) {
        body += "-D" + line.substr(2) + '\n';
      }
    }
    if (t->second.chains.count(chain) != 0) {
      body += std::string("-F ") + chain + '\n';
      body += std::string("-X ") + chain + '\n';
    }
    if (!body.empty()) {
      out += '*' + std::string(table) + '\n' + body + "COMMIT\n";
    }
  }
  return out;
}

} // namespace weft::kernel
