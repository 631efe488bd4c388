#!/usr/bin/env bash
# Smoke test of the production recipe on this machine: a fresh PostgreSQL database, Redis db 14,
# nginx + two gunicorn instances (deploy/run-stack.sh), then deploy/smoke_client.py. Run by .ci/run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export TRAINER_STACK_DIR="${TRAINER_STACK_DIR:-$(mktemp -d /tmp/trainer-smoke.XXXXXX)}"
DB="${SMOKE_DATABASE:-trainer_smoke}"
export TRAINER_STACK_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$DB"
export TRAINER_STACK_REDIS_URL="${TRAINER_STACK_REDIS_URL:-redis://127.0.0.1:6379/14}"
VENV="${TRAINER_VENV:-$ROOT/.venv}"
PASSWORD="$("$VENV/bin/python" -c 'import secrets; print("Kx7-" + secrets.token_urlsafe(12))')"

dropdb -h 127.0.0.1 -U postgres --if-exists "$DB"
createdb -h 127.0.0.1 -U postgres "$DB"
redis-cli -u "$TRAINER_STACK_REDIS_URL" flushdb > /dev/null   # this database number is the smoke test's own

cleanup() {
  "$ROOT/deploy/run-stack.sh" stop || true
  if [ "${1:-0}" != 0 ]; then
    echo "== logs ($TRAINER_STACK_DIR/logs) ==" >&2
    tail -n 30 "$TRAINER_STACK_DIR"/logs/*.log "$TRAINER_STACK_DIR"/nginx/logs/error.log >&2 || true
  elif [ -z "${KEEP_STACK_DIR:-}" ]; then
    rm -rf "$TRAINER_STACK_DIR"
  fi
}
trap 'cleanup $?' EXIT

"$ROOT/deploy/run-stack.sh" start
(
  . /dev/stdin <<< "$("$ROOT/deploy/run-stack.sh" env | sed 's/^/export /')"
  export TRAINER_SECRET_KEY="$(cat "$TRAINER_STACK_DIR/secret")"
  for who in "smoke-fac facilitator" "smoke-trainee trainee" "smoke-participant trainee"; do
    set -- $who
    "$VENV/bin/trainer" user create "$1" --name "スモーク $1" --org 140007 --role "$2" --password "$PASSWORD" > /dev/null
  done
)
"$VENV/bin/python" "$ROOT/deploy/smoke_client.py" --base "https://127.0.0.1:${STACK_HTTPS_PORT:-18443}" \
  --a "http://127.0.0.1:${STACK_PORT_A:-18001}" --b "http://127.0.0.1:${STACK_PORT_B:-18002}" \
  --facilitator smoke-fac --trainee smoke-trainee --participant smoke-participant --password "$PASSWORD" \
  --logs "$TRAINER_STACK_DIR/logs"
