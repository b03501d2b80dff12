#include "http_frontend.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace weft::emulator {
namespace {

httplib::Headers to_headers(const ApiRequest& r) {
  httplib::Headers h;
  for (const auto& [k, v] : r.headers) {
    if (k != "host" && k != "content-type") {
      h.emplace(k, v);
    }
  }
  return h;
}

TEST(HttpFrontend, ServesApiMetadataAndAdminOnLoopback) {
  Emulator emulator(testing::small_state(), base::system_clock(), EmulatorOptions{});
  MetadataService metadata(
      emulator.vpc(), emulator.keys(), [&] { return emulator.unix_now(); },
      MetadataOptions{false, testing::kNodeA});
  FrontendOptions options;
  options.metadata = ListenAddress{"127.0.0.1", 0};
  HttpFrontend frontend(emulator, &metadata, options);
  ASSERT_TRUE(frontend.start().ok());

  httplib::Client api("127.0.0.1", frontend.api_port());
  std::string host = fmt::format("127.0.0.1:{}", frontend.api_port());
  ApiRequest r = testing::signed_request("DescribeVpcs", "{}", emulator.unix_now(),
                                         testing::kSecretId, testing::kSecretKey, "", host);
  auto res = api.Post("/", to_headers(r), r.body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["Response"]["TotalCount"], 2);

  // An error is HTTP 200 too.
  auto bad =
      api.Post("/", httplib::Headers{{"X-TC-Action", "DescribeVpcs"}}, "{}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 200);
  EXPECT_EQ(nlohmann::json::parse(bad->body)["Response"]["Error"]["Code"],
            "AuthFailure.InvalidAuthorization");

  // A dropped connection gives the client no reply at all.
  ASSERT_TRUE(emulator.faults().configure_json(R"({"Script":[{"Fault":"Drop"}]})").ok());
  httplib::Client fresh("127.0.0.1", frontend.api_port());
  EXPECT_FALSE(fresh.Post("/", to_headers(r), r.body, "application/json"));

  auto counters = api.Get("/_emulator/counters");
  ASSERT_TRUE(counters);
  EXPECT_EQ(nlohmann::json::parse(counters->body)["Calls"]["DescribeVpcs"]["Success"], 1);
  auto state = api.Get("/_emulator/state");
  ASSERT_TRUE(state);
  EXPECT_TRUE(parse_state(state->body).ok());

  httplib::Client meta("127.0.0.1", frontend.metadata_port());
  auto id = meta.Get("/latest/meta-data/instance-id");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->body, "ins-test0001");
  frontend.stop();
}

} // namespace
} // namespace weft::emulator
