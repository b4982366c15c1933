#!/usr/bin/env bash
# Installs the Debian packages tutti needs that are missing (and, with
# --test, what the test suite needs too; with --perf, the peers perf/run
# compares tutti with). Only missing packages are asked for; apt-get
# update runs once, and only when something must be installed.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
  libssl-dev libsrtp2-dev libopus-dev libvpx-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libyuv-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev)
test_pkgs=(clang libclang-rt-14-dev chromium
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-nice gir1.2-gstreamer-1.0
  gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  python3-gi python3-numpy iproute2 iptables util-linux openssl curl ffmpeg)
# perf/run: the peers tutti is measured against (Janus AudioBridge, a
# GStreamer compositor pipeline). Debian's janus starts no service here.
perf_pkgs=(janus gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3 curl)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--perf" ]; then
  want+=("${perf_pkgs[@]}")
fi
if [ "${1:-}" = "--test" ]; then
  want+=("${test_pkgs[@]}")
  # Node.js may come from elsewhere (with its own npm); ask Debian only when absent.
  command -v node >/dev/null 2>&1 || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "tutti: installing ${#missing[@]} missing package(s): ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "tutti: all required Debian packages are present"
fi
