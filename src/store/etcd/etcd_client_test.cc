#include "store/etcd/etcd_client.h"
#include "store/etcd/grpc_conn.h"

#include <gtest/gtest.h>

namespace weft::store::etcd {
namespace {

TEST(ParseEndpoints, FlanneldUrls) {
  auto eps = parse_endpoints("http://127.0.0.1:2379, https://etcd.example:4001/,10.0.0.1");
  ASSERT_TRUE(eps.ok()) << eps.status().to_string();
  ASSERT_EQ(eps->size(), 3u);
  EXPECT_EQ((*eps)[0].host_port, "127.0.0.1:2379");
  EXPECT_FALSE((*eps)[0].tls);
  EXPECT_EQ((*eps)[1].host_port, "etcd.example:4001");
  EXPECT_TRUE((*eps)[1].tls);
  EXPECT_EQ((*eps)[2].host_port, "10.0.0.1:2379");
}

TEST(ParseEndpoints, Ipv6Literal) {
  auto eps = parse_endpoints("http://[::1]:2379,[fd00::1]");
  ASSERT_TRUE(eps.ok());
  EXPECT_EQ((*eps)[0].host_port, "[::1]:2379");
  EXPECT_EQ((*eps)[1].host_port, "[fd00::1]:2379");
}

TEST(ParseEndpoints, Rejects) {
  EXPECT_FALSE(parse_endpoints("").ok());
  EXPECT_FALSE(parse_endpoints(" , ").ok());
  EXPECT_FALSE(parse_endpoints("unix:///var/run/etcd.sock").ok());
  EXPECT_FALSE(parse_endpoints("http://h:0").ok());
  EXPECT_FALSE(parse_endpoints("http://h:99999").ok());
  EXPECT_FALSE(parse_endpoints("http://h:12a").ok());
}

TEST(PrefixRangeEnd, IncrementsLastByte) {
  EXPECT_EQ(prefix_range_end("/coreos.com/network/subnets/"), "/coreos.com/network/subnets0");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(RpcCounts, DifferenceAndTotal) {
  RpcCounts a;
  RpcCounts b;
  b.by_method[static_cast<std::size_t>(Rpc::kRange)] = 2;
  b.by_method[static_cast<std::size_t>(Rpc::kTxn)] = 1;
  const auto d = b - a;
  EXPECT_EQ(d[Rpc::kRange], 2u);
  EXPECT_EQ(d.total(), 3u);
  EXPECT_STREQ(rpc_name(Rpc::kLeaseGrant), "LeaseGrant");
}

TEST(GrpcMessage, PercentDecoding) {
  EXPECT_EQ(grpc::percent_decode("etcdserver:%20requested%20lease%20not%20found"),
            "etcdserver: requested lease not found");
  EXPECT_EQ(grpc::percent_decode("%e2%9C%93 ok"), "\xe2\x9c\x93 ok");
  EXPECT_EQ(grpc::percent_decode("100% sure %zz %4"), "100% sure %zz %4"); // not escapes
}

} // namespace
} // namespace weft::store::etcd
