#!/usr/bin/env bash
# Creates build/tfls-venv: tflite-support 0.4.4 in its own virtual environment (it pins
# protobuf < 4, which the main .venv must not get), for the tests that read liteport's metadata
# with tflite-support's MetadataDisplayer and run its Android code generator (tflite_codegen).
# Its native modules need libusb-1.0 (Debian: libusb-1.0-0), installed here when missing and root.
set -euo pipefail
VENV=${1:-build/tfls-venv}
PYTHON=${PYTHON:-python3.11}
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
    else
        echo "tflite_support_venv.sh: libusb-1.0 is missing (Debian: apt-get install libusb-1.0-0)" >&2
        exit 1
    fi
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet tflite-support==0.4.4
"$VENV/bin/python" -c "from tensorflow_lite_support.metadata.python import metadata; \
from tensorflow_lite_support.codegen.python import _pywrap_codegen"
touch "$VENV/.stamp"
