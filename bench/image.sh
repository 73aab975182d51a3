#!/usr/bin/env bash
# Build the Dockerfile and check the image, with neither a Docker daemon nor Docker Hub.
#
#   bench/image.sh                # as root; installs buildah and mmdebstrap from Debian if missing
#   SUITE=trixie bench/image.sh   # the base from Debian trixie (Python 3.13) instead of bookworm (3.11)
#   REUSE_BASE=1 bench/image.sh   # keep the base image made by an earlier run, if there is one
#
# 1. A base made from Debian's packages without Docker Hub (mmdebstrap: Debian's minimal system with apt,
#    python3, python3-venv, ca-certificates; merged /usr) stands in for the official python slim image,
#    through the BASE build argument. The host's extra CA certificates (/usr/local/share/ca-certificates)
#    go into it, so that pip in the build trusts what the host trusts (an intercepting proxy here).
# 2. buildah builds the Dockerfile (chroot isolation, the host's network: PyPI and a Debian mirror).
# 3. buildah runs the image: liminal-tui --version; --run smoke -d 5s against the built-in demo target
#    (127.0.0.1 inside) with a fresh host folder mounted on /reports; the app in a terminal (tmux);
#    --validate of a profile by name from a folder mounted on /profiles.
# Checks: the image's entrypoint, user, working directory, volume, TERM and no healthcheck; the version;
# the run's exit code (0, or 1 when a threshold failed, e.g. no broadcast in 5 s: the image still
# works); the report folder in the mounted folder, its summary.json counting requests; the process's
# uid is not 0 and the report is its own; the app shows its profiles and quits; the profile is found;
# the image size (target < 200 MB). Ends with a PASS or FAIL line (exit 0 or 1). About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=${SUITE:-bookworm}
BASE_IMAGE=localhost/liminal-tui-base:$SUITE
IMAGE=localhost/liminal-tui:bench-$SUITE
LIMIT_MB=200
WORK=$(mktemp -d /tmp/liminal-image.XXXXXX)
CTR=""
FAILED=()

cleanup() {
  if [ -n "$CTR" ]; then buildah rm "$CTR" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
check() {  # check NAME CONDITION-EXIT-CODE DETAIL
  if [ "$2" -eq 0 ]; then echo "ok    $1: $3"; else echo "FAIL  $1: $3"; FAILED+=("$1"); fi
}

if ! command -v buildah >/dev/null || ! command -v mmdebstrap >/dev/null; then
  step "installing buildah and mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah mmdebstrap >/dev/null
fi

make_base() {  # the Debian stand-in for python:*-slim, as $BASE_IMAGE
  local hooks=() base
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    hooks+=(--customize-hook='mkdir -p "$1/usr/local/share/ca-certificates"'
            --customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"'
            --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1')
  fi
  if ! mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      "${hooks[@]}" "$SUITE" "$WORK/base.tar" >"$WORK/mmdebstrap.log" 2>&1; then
    tail -n 20 "$WORK/mmdebstrap.log"
    echo "FAIL: mmdebstrap could not make the base image"
    exit 1
  fi
  base=$(buildah from scratch)
  buildah add --quiet "$base" "$WORK/base.tar" / >/dev/null
  buildah config --env LANG=C.UTF-8 --cmd python3 "$base"
  buildah commit --quiet --rm "$base" "$BASE_IMAGE" >/dev/null
  rm -f "$WORK/base.tar"
}

step "base image from Debian $SUITE packages ($BASE_IMAGE)"
start=$SECONDS
if [ -n "${REUSE_BASE:-}" ] && buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "reusing the existing $BASE_IMAGE"
else
  make_base
  echo "made in $((SECONDS - start)) s"
fi

step "build the Dockerfile with --build-arg BASE=$BASE_IMAGE"
start=$SECONDS
buildah bud --quiet --isolation chroot --network host --layers=false \
  --build-arg "BASE=$BASE_IMAGE" -t "$IMAGE" -f Dockerfile . >/dev/null
echo "built in $((SECONDS - start)) s"

step "the image's configuration"
buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
image = json.load(sys.stdin)
c = image["OCIv1"]["config"]
print(json.dumps({k: c.get(k) for k in ("User", "Entrypoint", "Cmd", "WorkingDir", "Volumes", "Env")}))
ok = (c.get("Entrypoint") == ["liminal-tui"] and not c.get("Cmd") and c.get("User") == "1000:1000"
      and "/reports" in (c.get("Volumes") or {}) and c.get("WorkingDir") == "/"
      and any(e.startswith("TERM=") for e in c.get("Env", [])) and not image["Docker"]["config"].get("Healthcheck"))
sys.exit(0 if ok else 1)
' && rc=0 || rc=$?
check config $rc "entrypoint liminal-tui, no cmd, user 1000:1000, volume /reports, workdir /, TERM set, no healthcheck"

CTR=$(buildah from --quiet "$IMAGE")
# buildah run mounts a fresh volume on the image's VOLUME paths over a -v bind mount of the same path;
# the working container (not the image) drops the declaration so that -v reaches /reports.
buildah config --volume /reports- "$CTR"
run() { buildah run --isolation chroot --network host "$@"; }

step "liminal-tui --version"
version=$(run "$CTR" -- liminal-tui --version 2>&1) && rc=0 || rc=$?
echo "$version"
[ "$rc" -eq 0 ] && [[ "$version" == liminal-tui\ * ]] && rc=0 || rc=1
check version $rc "$version"

step "liminal-tui --run smoke -d 5s, $WORK/reports mounted on /reports"
mkdir "$WORK/reports"
chown 1000:1000 "$WORK/reports"   # as `mkdir reports` does for a host user 1000 (README: --user otherwise)
start=$SECONDS
run -v "$WORK/reports:/reports" "$CTR" -- \
  sh -c 'echo "uid=$(id -u) gid=$(id -g) cwd=$(pwd)"; exec liminal-tui --run smoke -d 5s' \
  >"$WORK/run.out" 2>"$WORK/run.err" && rc=0 || rc=$?
tail -n 5 "$WORK/run.err"
cat "$WORK/run.out"
echo "exit code $rc in $((SECONDS - start)) s"
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && code_ok=0 || code_ok=1
check "run exit" $code_ok "exit code $rc (0 passed, 1 a threshold failed)"
uid=$(sed -n 's/^uid=\([0-9]*\).*/\1/p' "$WORK/run.out")
[ -n "$uid" ] && [ "$uid" != 0 ] && rc=0 || rc=1
check "non-root" $rc "the process ran as uid ${uid:-?}"

step "the app in a terminal (tmux), as docker run -it"
if command -v tmux >/dev/null; then
  sock="liminal-image-$$"
  tmux -L "$sock" new-session -d -x 100 -y 30 \
    "buildah run --isolation chroot -t $CTR -- liminal-tui; echo exited \$?; sleep 60"
  seen=1
  for _ in $(seq 60); do
    if tmux -L "$sock" capture-pane -p | grep -q "shipped (read-only)"; then seen=0; break; fi
    sleep 0.5
  done
  tmux -L "$sock" capture-pane -p | head -n 8
  tmux -L "$sock" send-keys q
  quit=1
  for _ in $(seq 40); do
    if tmux -L "$sock" capture-pane -p | grep -q "^exited 0"; then quit=0; break; fi
    sleep 0.5
  done
  tmux -L "$sock" kill-server 2>/dev/null || true
  check app $seen "the Profiles screen lists the shipped profiles"
  check "app quit" $quit "q leaves the app with exit code 0"
else
  echo "skipped: no tmux (apt-get install tmux)"
fi

step "a profile in a folder mounted on /profiles is found by name"
mkdir "$WORK/profiles"
sed '0,/^name = .*/s//name = "mine"/' profiles/smoke.toml >"$WORK/profiles/mine.toml"
out=$(run -v "$WORK/profiles:/profiles" "$CTR" -- liminal-tui --validate mine 2>&1) && rc=0 || rc=$?
echo "$out"
[ "$rc" -eq 0 ] && [[ "$out" == profiles/mine.toml:\ OK* ]] && rc=0 || rc=1
check profiles $rc "--validate mine reads /profiles/mine.toml"

step "the report in the mounted folder"
ls -ln "$WORK/reports" "$WORK"/reports/* || true
summary=$(compgen -G "$WORK/reports/smoke_*/summary.json" | head -n 1 || true)
if [ -n "$summary" ]; then
  requests=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["aggregates"]["all"]["requests"])' \
    "$summary" 2>/dev/null || true)
  owner=$(stat -c %u "$summary")
  [ -f "$(dirname "$summary")/report.html" ] && [ "$owner" != 0 ] && rc=0 || rc=1
  check report $rc "$(basename "$(dirname "$summary")")/ with report.html and summary.json, owned by uid $owner"
  [ -n "$requests" ] && [ "$requests" -gt 0 ] && rc=0 || rc=1
  check requests $rc "summary.json counts ${requests:-no} requests"
else
  check report 1 "no reports/smoke_*/summary.json in the mounted folder"
fi

step "size"
size_mb() {  # as buildah reports it (decimal units, uncompressed layers), in MB
  buildah images --json "$1" | python3 -c '
import json, sys
number, unit = json.load(sys.stdin)[0]["size"].split()
print(round(float(number) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[unit]))'
}
base_mb=$(size_mb "$BASE_IMAGE")
image_mb=$(size_mb "$IMAGE")
echo "base $BASE_IMAGE: $base_mb MB; image $IMAGE: $image_mb MB" \
  "(the app and its dependencies: $((image_mb - base_mb)) MB)"
[ "$image_mb" -lt "$LIMIT_MB" ] && rc=0 || rc=1
check size $rc "$image_mb MB < $LIMIT_MB MB"

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "PASS: the image builds, runs liminal-tui as a non-root user and writes its report to /reports"
  exit 0
fi
echo "FAIL: ${FAILED[*]}"
exit 1
