#!/usr/bin/env bash
# redis-server and redis-cli, which Letta's own start script runs and the two-instance rehearsal shares: from
# Debian's packages when missing (as root, or through sudo on a CI runner); elsewhere one line says how.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  redis-server --version
  exit 0
fi
if command -v apt-get >/dev/null; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  redis-server --version
  exit 0
fi
echo "install_redis.sh: redis-server is missing: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), then rerun" >&2
exit 1
