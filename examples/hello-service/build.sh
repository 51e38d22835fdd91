#!/bin/sh
# Builds the artifact directory dist/: the server plus a VERSION file that
# bakes in the release number and the commit it was built from.
set -eu
rm -rf dist
mkdir -p dist
cp server.py dist/
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "$(cat VERSION)+$commit" > dist/VERSION
echo "built hello-service $(cat dist/VERSION)"
