#!/bin/sh
# Runs a command in the team's private network namespace (../shared/netns-run),
# which WebRTC tests need; where that tool is not beside the repo, as it is.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$here/../shared/netns-run" ]; then exec "$here/../shared/netns-run" "$@"; fi
echo "in-netns: ../shared/netns-run not found; running on the host network" >&2
exec "$@"
