#!/usr/bin/env bash
# Runs the command when an OpenCL device is present; otherwise prints why and exits 77, which
# meson reports as a skipped test.   if_device.sh LIST_DEVICES COMMAND...
list=$1
shift
if ! why=$("$list" 2>&1); then
  echo "SKIP: $why (no OpenCL platform or device: the OpenCL tests need one, e.g. pocl-opencl-icd)"
  exit 77
fi
exec "$@"
