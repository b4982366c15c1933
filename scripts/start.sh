#!/usr/bin/env bash
# Installs what is missing, builds tutti (Release) and starts it with an
# open demo room. Extra arguments go to the server, e.g.
#   scripts/start.sh --http 127.0.0.1:9090
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target tutti

http="${TUTTI_HTTP:-127.0.0.1:8080}"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--http" ]; then j=$((i + 1)); http="${!j}"; fi
done
echo "tutti: open http://${http}/r/demo in a browser (Ctrl-C stops the server)"
exec build/server/tutti --demo "$@"
