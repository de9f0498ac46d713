#!/usr/bin/env bash
# cmake-js-check.sh: the second build path (README, docs/architecture.md) end to end. Builds the addon
# through CMakeLists.txt with cmake-js (`npm run build:cmake-js`, into build-cmake-js/Release) with the
# network cut off when this user may make a network namespace (unshare -n), which proves the build
# downloads nothing: package.json's binary.napi_versions makes cmake-js take the Node-API headers from
# the node-api-headers package that npm installed, not from a Node headers tarball. Then runs the
# binding suite (test/binding.test.ts: a smoke test that loads the .node, listens on an ephemeral
# port, registers a socket client and closes; then the argument checks) against that build.
# Prints uvu's Total/Passed lines (counted by .ci/run); exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1
ADDON=$PWD/build-cmake-js/Release/epchat.node

offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
  echo "cmake-js: building with no network (unshare -n)"
else
  echo "cmake-js: cannot make a network namespace here; building with the network (nothing should be fetched)"
fi
rm -f "$ADDON"
if ! timeout 600 "${offline[@]}" npm run build:cmake-js; then
  echo "cmake-js: the build failed"
  exit 1
fi
if [ ! -f "$ADDON" ]; then
  echo "cmake-js: the build produced no $ADDON"
  exit 1
fi
if [ -d "$HOME/.cmake-js" ]; then
  echo "cmake-js: note: $HOME/.cmake-js exists (a Node headers download by some earlier build?)"
fi

timeout 120 npx tsc -p . || exit 1
EPCHAT_ADDON=$ADDON timeout 300 npx uvu dist/test 'binding\.test\.js$'
