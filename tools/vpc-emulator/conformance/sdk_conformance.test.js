// Conformance of the weft VPC emulator with Tencent Cloud's official Node.js SDK
// (tencentcloud-sdk-nodejs-common, pinned in package-lock.json). Starts the built emulator on a
// free loopback port with examples/state.json and calls every action through CommonClient.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");

const modules = path.join(__dirname, "node_modules", "tencentcloud-sdk-nodejs-common");
if (!fs.existsSync(modules)) {
  // Fail, never skip: the suite is the emulator's proof of conformance.
  throw new Error(`${modules} is missing: run scripts/setup.sh (npm ci in ${__dirname})`);
}
const sdk = require("tencentcloud-sdk-nodejs-common");
const CvmRoleCredential = require(
  "tencentcloud-sdk-nodejs-common/tencentcloud/common/cvm_role_credential").default;

const binary = process.env.WEFT_VPC_EMULATOR;
const statePath =
  process.env.WEFT_EMULATOR_STATE || path.join(__dirname, "..", "examples", "state.json");
const state = JSON.parse(fs.readFileSync(statePath, "utf8"));
const key = state.Credentials[0];
const VPC = "vpc-2at5y1pn";
const TABLE = "rtb-l2h8d7c2";

let emulator;
let apiUrl;
let metaUrl;

function client(service, credential, endpoint) {
  return new sdk.CommonClient(endpoint || apiUrl.host, "2017-03-12", {
    credential: credential || { secretId: key.SecretId, secretKey: key.SecretKey },
    region: "ap-guangzhou",
    profile: { httpProfile: { protocol: "http://", reqTimeout: 10 } },
  });
}
const vpc = (credential) => client("vpc", credential);

async function admin(method, p, body) {
  const res = await fetch(new URL(p, apiUrl), { method, body: body && JSON.stringify(body) });
  assert.equal(res.status, 200, `${method} ${p}`);
  return res.json();
}

async function expectCode(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.match(e.requestId, /^[0-9a-f-]{36}$/);
    return true;
  });
}

test.before(async () => {
  assert.ok(binary && fs.existsSync(binary), "WEFT_VPC_EMULATOR must name the built vpc-emulator");
  emulator = spawn(binary, ["--state", statePath, "--listen", "127.0.0.1:0",
                            "--metadata-listen", "127.0.0.1:0", "--metadata-trust-header"],
                   { stdio: ["ignore", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: emulator.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("emulator did not start in 20 s")), 20000);
    emulator.on("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
    lines.on("line", (line) => {
      let m = line.match(/api listening on (http:\/\/\S+)/);
      if (m) apiUrl = new URL(m[1]);
      m = line.match(/metadata listening on (http:\/\/\S+)/);
      if (m) metaUrl = new URL(m[1]);
      if (apiUrl && metaUrl) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
});

test.after(() => {
  if (emulator) emulator.kill("SIGTERM");
});

test("DescribeVpcs returns the documented shape", async () => {
  const r = await vpc().request("DescribeVpcs", { VpcIds: [VPC], Offset: "0", Limit: "20" });
  assert.equal(r.TotalCount, 1);
  assert.equal(r.VpcSet[0].VpcId, VPC);
  assert.equal(r.VpcSet[0].CidrBlock, "10.0.0.0/16");
  assert.equal(typeof r.VpcSet[0].IsDefault, "boolean");
  assert.match(r.RequestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const f = await vpc().request("DescribeVpcs", {
    Filters: [{ Name: "cidr-block", Values: ["10.0.0.0"] }, { Name: "is-default", Values: ["false"] }],
  });
  assert.deepEqual(f.VpcSet.map((v) => v.VpcId), [VPC]);
});

test("DescribeVpcLimits returns the route quota", async () => {
  const r = await vpc().request("DescribeVpcLimits",
                                { LimitTypes: ["route-table-max-policies", "vpc-max-route-tables"] });
  assert.deepEqual(r.VpcLimitSet, [
    { LimitType: "route-table-max-policies", LimitValue: 200 },
    { LimitType: "vpc-max-route-tables", LimitValue: 10 },
  ]);
});

test("CVM DescribeInstances finds a node by private-ip-address", async () => {
  const r = await client("cvm").request("DescribeInstances", {
    Filters: [{ Name: "private-ip-address", Values: ["10.0.1.11"] }], Offset: 0, Limit: 20,
  });
  assert.equal(r.TotalCount, 1);
  const ins = r.InstanceSet[0];
  assert.equal(ins.InstanceId, "ins-n0de0002");
  assert.deepEqual(ins.PrivateIpAddresses, ["10.0.1.11"]);
  assert.equal(ins.VirtualPrivateCloud.VpcId, VPC);
  assert.equal(ins.Placement.Zone, "ap-guangzhou-3");
});

test("DescribeRouteTables: filters, ids, Coexist, string paging", async () => {
  const r = await vpc().request("DescribeRouteTables", {
    Filters: [{ Name: "vpc-id", Values: [VPC] }, { Name: "association.main", Values: ["true"] }],
    Offset: "0", Limit: "100",
  });
  assert.equal(r.TotalCount, 1);
  const t = r.RouteTableSet[0];
  assert.equal(t.RouteTableId, TABLE);
  assert.equal(t.Main, true);
  assert.deepEqual(t.AssociationSet, [{ SubnetId: "subnet-n0de0001", RouteTableId: TABLE }]);
  assert.equal(t.RouteSet[0].RouteType, "NETD");
  assert.equal(typeof t.RouteSet[0].RouteId, "number");

  const page1 = await vpc().request("DescribeRouteTables",
                                    { Filters: [{ Name: "vpc-id", Values: [VPC] }], Offset: "0", Limit: "1" });
  const page2 = await vpc().request("DescribeRouteTables",
                                    { Filters: [{ Name: "vpc-id", Values: [VPC] }], Offset: "1", Limit: "1" });
  assert.equal(page1.TotalCount, 2);
  assert.equal(page2.TotalCount, 2);
  assert.notEqual(page1.RouteTableSet[0].RouteTableId, page2.RouteTableSet[0].RouteTableId);

  await expectCode(vpc().request("DescribeRouteTables",
                                 { RouteTableIds: [TABLE], Filters: [{ Name: "vpc-id", Values: [VPC] }] }),
                   "InvalidParameter.Coexist");
  await expectCode(vpc().request("DescribeRouteTables", { RouteTableIds: ["rtb-xyz"] }),
                   "InvalidParameterValue.Malformed");
  await expectCode(vpc().request("DescribeRouteTables", { RouteTableIds: ["rtb-00000000"] }),
                   "ResourceNotFound");
});

test("CreateRoutes, ReplaceRoutes, DeleteRoutes round trip", async () => {
  const created = await vpc().request("CreateRoutes", {
    RouteTableId: TABLE,
    Routes: [{ DestinationCidrBlock: "172.20.1.0/24", GatewayType: "NORMAL_CVM",
               GatewayId: "10.0.1.10", RouteDescription: "weft:test" }],
  });
  assert.equal(created.TotalCount, 1);
  const route = created.RouteTableSet[0].RouteSet.find((x) => x.DestinationCidrBlock === "172.20.1.0/24");
  assert.ok(route);
  assert.match(route.RouteItemId, /^rti-[0-9a-z]{8}$/);
  assert.equal(route.RouteType, "USER");
  assert.equal(route.Enabled, true);

  await expectCode(vpc().request("CreateRoutes", {
    RouteTableId: TABLE,
    Routes: [{ DestinationCidrBlock: "172.20.1.0/24", GatewayType: "NORMAL_CVM", GatewayId: "10.0.1.10" }],
  }), "InvalidParameterValue.Duplicate");
  await expectCode(vpc().request("CreateRoutes", {
    RouteTableId: TABLE,
    Routes: [{ DestinationCidrBlock: "10.0.9.0/24", GatewayType: "NORMAL_CVM", GatewayId: "10.0.1.10" }],
  }), "InvalidParameterValue.VpcCidrConflict");
  await expectCode(vpc().request("CreateRoutes", {
    RouteTableId: TABLE,
    Routes: [{ DestinationCidrBlock: "172.20.2.0/24", GatewayType: "NORMAL_CVM", GatewayId: "10.0.1.99" }],
  }), "InvalidParameterValue.RouteNextHopInvalid");

  const replaced = await vpc().request("ReplaceRoutes", {
    RouteTableId: TABLE,
    Routes: [{ RouteItemId: route.RouteItemId, DestinationCidrBlock: "172.20.1.0/24",
               GatewayType: "NORMAL_CVM", GatewayId: "10.0.1.11" }],
  });
  assert.equal(replaced.OldRouteSet[0].GatewayId, "10.0.1.10");
  assert.equal(replaced.NewRouteSet[0].GatewayId, "10.0.1.11");
  assert.equal(replaced.NewRouteSet[0].RouteId, route.RouteId);

  await expectCode(vpc().request("DeleteRoutes", { RouteTableId: TABLE, Routes: [{ RouteId: 1 }] }),
                   "UnsupportedOperation.SystemRoute");
  const deleted = await vpc().request("DeleteRoutes",
                                      { RouteTableId: TABLE, Routes: [{ RouteId: route.RouteId }] });
  assert.equal(deleted.RouteSet[0].RouteItemId, route.RouteItemId);
  await expectCode(vpc().request("DeleteRoutes",
                                 { RouteTableId: TABLE, Routes: [{ RouteItemId: route.RouteItemId }] }),
                   "ResourceNotFound");
});

test("a wrong secret key gives AuthFailure.SignatureFailure", async () => {
  await expectCode(vpc({ secretId: key.SecretId, secretKey: "wrong" }).request("DescribeVpcs", {}),
                   "AuthFailure.SignatureFailure");
  await expectCode(vpc({ secretId: "AKIDunknown", secretKey: "x" }).request("DescribeVpcs", {}),
                   "AuthFailure.SecretIdNotFound");
});

test("a stale timestamp gives AuthFailure.SignatureExpire", async () => {
  // Move the emulator's clock 10 minutes ahead: the SDK's timestamps are then stale.
  await admin("PUT", "/_emulator/clock", { OffsetSeconds: 600 });
  try {
    await expectCode(vpc().request("DescribeVpcs", {}), "AuthFailure.SignatureExpire");
  } finally {
    await admin("PUT", "/_emulator/clock", { OffsetSeconds: 0 });
  }
  await vpc().request("DescribeVpcs", {});
});

test("temporary credentials from the metadata role work with X-TC-Token", async () => {
  // The SDK's own CvmRoleCredential, pointed at the emulator's metadata listener instead of
  // metadata.tencentyun.com, asking as node-1 (10.0.1.10) through the test header.
  class EmulatorRole extends CvmRoleCredential {
    async getRoleName() {
      const res = await fetch(new URL("/latest/meta-data/cam/security-credentials/", metaUrl),
                              { headers: { "X-Emulator-Instance-Ip": "10.0.1.10" } });
      assert.equal(res.status, 200);
      return res.text();
    }
    async getRoleCredential(role) {
      const res = await fetch(new URL(`/latest/meta-data/cam/security-credentials/${role}`, metaUrl),
                              { headers: { "X-Emulator-Instance-Ip": "10.0.1.10" } });
      const json = await res.json();
      assert.equal(json.Code, "Success");
      return json;
    }
  }
  const role = new EmulatorRole();
  const creds = await role.getCredential();
  assert.match(creds.secretId, /^AKID/);
  assert.ok(creds.token.length > 0);
  const r = await vpc(role).request("DescribeRouteTables", { RouteTableIds: [TABLE] });
  assert.equal(r.TotalCount, 1);
  await expectCode(vpc({ ...creds, token: "forged" }).request("DescribeVpcs", {}),
                   "AuthFailure.TokenFailure");
  await expectCode(vpc({ secretId: creds.secretId, secretKey: creds.secretKey })
                     .request("DescribeVpcs", {}), "AuthFailure.TokenFailure");
});

test("metadata answers as the reference lists", async () => {
  const get = async (p, ip = "10.0.1.10") => {
    const res = await fetch(new URL(`/latest/meta-data/${p}`, metaUrl),
                            { headers: { "X-Emulator-Instance-Ip": ip } });
    return { status: res.status, body: await res.text() };
  };
  assert.equal((await get("instance-id")).body, "ins-n0de0001");
  assert.equal((await get("local-ipv4")).body, "10.0.1.10");
  assert.equal((await get("placement/region")).body, "ap-guangzhou");
  assert.equal((await get("placement/zone")).body, "ap-guangzhou-3");
  const mac = (await get("mac")).body;
  assert.equal(mac, "52:54:00:AA:00:01");
  assert.equal((await get(`network/interfaces/macs/${mac}/vpc-id`)).body, VPC);
  assert.equal((await get(`network/interfaces/macs/${mac}/subnet-id`)).body, "subnet-n0de0001");
  assert.equal((await get("cam/security-credentials/", "10.0.1.11")).status, 404);
});

test("faults: a scripted InternalError, then a dropped connection", async () => {
  await admin("PUT", "/_emulator/faults",
              { Script: [{ Fault: "InternalError", Action: "DescribeVpcs" }, { Fault: "Drop" }] });
  await expectCode(vpc().request("DescribeVpcs", {}), "InternalError");
  await assert.rejects(vpc().request("DescribeVpcs", {}), (e) => !e.code);
  await vpc().request("DescribeVpcs", {});
  const counters = await admin("GET", "/_emulator/counters");
  assert.ok(counters.Calls.DescribeVpcs.Success >= 1);
  assert.equal(counters.Calls.DescribeVpcs.InternalError, 1);
});
