#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the lab need. Idempotent and quiet:
# packages already present are not reinstalled, and apt-get update runs only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config clang-14 lld-14 libclang-rt-14-dev clang-format clang-tidy
  # libraries
  libnghttp2-dev libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libssl-dev
  libnl-3-dev libnl-route-3-dev libnftables-dev
  libcpp-httplib-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  # real parts the tests and the lab run
  etcd-server etcd-client iproute2 iptables nftables iputils-ping openssl curl procps ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js and npm run the Tencent Cloud SDK conformance tests; the machine may already carry them.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi


# npm packages of the conformance suites (pinned by their lockfiles), e.g. Tencent's official SDK.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for lock in "$here"/tools/*/conformance/package-lock.json; do
  [ -f "$lock" ] || continue
  dir=$(dirname "$lock")
  if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules" ]; then
    echo "setup: npm ci in ${dir#"$here"/}"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
done
echo "setup: all packages present"
