#!/bin/sh
# Builds the DeviceScript ESP32 runtime with esp32-image-tls.patch, the way that repository's CI
# builds it: `make prep` on the host (Node.js 20), then `make ci-build` in Espressif's ESP-IDF
# v5.0.5 container, then `make ci-patch`. Needs git, Node.js, Docker and the network; it is not run
# by npm install, npm test or npm start, and was not run where this project was written.
#   runtime/build-runtime.sh esp32s3   (or esp32c3)
set -eu
TARGET=${1:-esp32s3}
# devicescript-esp32 main after v2.16.1 (2024-04-11): the revision the patch was written against.
REV=f6aec45d0a38e76b0019b975f185033e66e2f85d
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$HERE/../build/runtime}

mkdir -p "$WORK"
if [ ! -d "$WORK/devicescript-esp32" ]; then
    git clone https://github.com/microsoft/devicescript-esp32 "$WORK/devicescript-esp32"
fi
cd "$WORK/devicescript-esp32"
git checkout --quiet "$REV"
git submodule update --init --recursive
git apply --check "$HERE/esp32-image-tls.patch" 2>/dev/null && git apply "$HERE/esp32-image-tls.patch"
echo "TARGET = $TARGET" > Makefile.user
make prep
docker run --rm -v "$PWD":/project -w /project -e HOME=/tmp espressif/idf:v5.0.5 make ci-build
make ci-patch BUILD="build-$TARGET"
echo "runtime images: $WORK/devicescript-esp32/dist/"
echo "for npm run build:board: cp dist/devicescript-$TARGET-${TARGET}_bare-0x0.bin to .devicescript/cache/ (or pass --runtime)"
