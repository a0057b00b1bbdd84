#!/usr/bin/env bash
# make run: bring up a lab from examples/frontend-backend (seed 000) and show
# the frontend pod reaching the backend Service by its DNS name.
set -euo pipefail
podnet=${PODNET:-podnet}
cd "$(dirname "$0")/.."
if ! $podnet status >/dev/null 2>&1; then
  $podnet up
fi
$podnet apply -f examples/frontend-backend/
$podnet wait --for=condition=Ready pod --all --timeout=60s >/dev/null
echo
echo '$ podnet get pods,svc -o wide'
$podnet get pods,svc -o wide
echo
echo '$ podnet exec -it frontend -- nslookup backend.default.svc.cluster.local'
$podnet exec frontend -- nslookup backend.default.svc.cluster.local
echo '$ podnet exec -it frontend -- curl backend.default.svc.cluster.local'
$podnet exec frontend -- curl -sS backend.default.svc.cluster.local
cat <<MSG

The lab is still running. Try:
  podnet get all -A
  podnet exec -it frontend -- sh
  podnet run web --image=nginx --port=80 --expose
Take it down with: podnet down
MSG
