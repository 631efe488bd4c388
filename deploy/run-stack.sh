#!/usr/bin/env bash
# The production recipe on one machine, as an ordinary user: nginx (TLS, static files, gzip, HSTS,
# X-Forwarded-*) in front of two gunicorn instances (2 workers each) on 127.0.0.1, PostgreSQL and
# Redis. Used by deploy/smoke.sh; also handy to try the recipe by hand.
#
#   deploy/run-stack.sh start | stop | env
#
# Settings (environment, with defaults): TRAINER_STACK_DIR=/tmp/trainer-stack,
# TRAINER_STACK_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/trainer_stack,
# TRAINER_STACK_REDIS_URL=redis://127.0.0.1:6379/14, ports STACK_HTTPS_PORT=18443,
# STACK_PORT_A=18001, STACK_PORT_B=18002, TRAINER_VENV=<repo>/.venv.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK="${TRAINER_STACK_DIR:-/tmp/trainer-stack}"
VENV="${TRAINER_VENV:-$ROOT/.venv}"
HTTPS_PORT="${STACK_HTTPS_PORT:-18443}"
PORT_A="${STACK_PORT_A:-18001}"
PORT_B="${STACK_PORT_B:-18002}"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

stack_env() {
  mkdir -p "$STACK/instance"
  [ -f "$STACK/secret" ] || (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))' > "$STACK/secret")
  export TRAINER_ENV=production
  export TRAINER_SECRET_KEY="$(cat "$STACK/secret")"
  export TRAINER_DATABASE_URL="${TRAINER_STACK_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/trainer_stack}"
  export TRAINER_RATELIMIT_STORAGE_URI="${TRAINER_STACK_REDIS_URL:-redis://127.0.0.1:6379/14}"
  export TRAINER_TRUSTED_PROXIES=1
  export TRAINER_PUBLIC_URL="https://127.0.0.1:$HTTPS_PORT"
  export TRAINER_INSTANCE_PATH="$STACK/instance"
  export TRAINER_CONTENT_DIR="$ROOT/content"
  export TRAINER_JSON_LOGS=1
  export TRAINER_WORKERS=2 TRAINER_THREADS=4
}

render_nginx() {
  local dir="$STACK/nginx"
  mkdir -p "$dir/logs" "$dir/temp" "$dir/conf"
  [ -f "$dir/conf/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
      -keyout "$dir/conf/key.pem" -out "$dir/conf/cert.pem" 2>/dev/null
  # the site file as shipped, with this machine's ports, paths and a throw-away certificate
  sed -e "s|127.0.0.1:8001|127.0.0.1:$PORT_A|; s|127.0.0.1:8002|127.0.0.1:$PORT_B|" \
      -e "s|/opt/trainer|$ROOT|g" \
      -e "s|listen 443 ssl http2;|listen 127.0.0.1:$HTTPS_PORT ssl http2;|; /listen \[::\]:443/d" \
      -e "/listen 80;/d; /listen \[::\]:80;/d; /return 301/d; s|server_name trainer.example.lg.jp;|server_name _;|" \
      -e "s|/etc/ssl/certs/trainer.crt|$dir/conf/cert.pem|; s|/etc/ssl/private/trainer.key|$dir/conf/key.pem|" \
      "$ROOT/deploy/nginx/trainer.conf" > "$dir/conf/trainer.conf"
  # drop the now empty port-80 server block
  python3 - "$dir/conf/trainer.conf" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
text = re.sub(r"server \{\s*server_name _;\s*\}\n*", "", text)
open(path, "w", encoding="utf-8").write(text)
PY
  cat > "$dir/conf/nginx.conf" <<CONF
worker_processes 2;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    sendfile on;
    include $dir/conf/trainer.conf;
}
CONF
}

wait_ready() {
  local url="$1"
  for _ in $(seq 1 120); do
    if curl -fsk -o /dev/null "$url"; then return 0; fi
    sleep 0.5
  done
  echo "not ready: $url" >&2
  return 1
}

start() {
  stack_env
  mkdir -p "$STACK/logs"
  "$VENV/bin/trainer" setup > "$STACK/logs/setup.log" 2>&1 || { cat "$STACK/logs/setup.log" >&2; exit 1; }
  for instance in a b; do
    port=$PORT_A; [ "$instance" = b ] && port=$PORT_B
    TRAINER_BIND="127.0.0.1:$port" PROMETHEUS_MULTIPROC_DIR="$STACK/metrics-$instance" \
      setsid "$VENV/bin/gunicorn" -c "$ROOT/deploy/gunicorn.conf.py" --pid "$STACK/gunicorn-$instance.pid" \
      > "$STACK/logs/instance-$instance.log" 2>&1 < /dev/null &
  done
  render_nginx
  "$NGINX" -t -q -p "$STACK/nginx" -c "$STACK/nginx/conf/nginx.conf" 2>&1 \
    | grep -v 'could not open error log file' >&2 || true
  "$NGINX" -p "$STACK/nginx" -c "$STACK/nginx/conf/nginx.conf" 2>&1 | grep -v 'could not open error log file' >&2 || true
  wait_ready "http://127.0.0.1:$PORT_A/readyz"
  wait_ready "http://127.0.0.1:$PORT_B/readyz"
  wait_ready "https://127.0.0.1:$HTTPS_PORT/readyz"
  echo "stack up: https://127.0.0.1:$HTTPS_PORT (instances 127.0.0.1:$PORT_A, 127.0.0.1:$PORT_B; logs in $STACK/logs)"
}

stop() {
  for pidfile in "$STACK/nginx/nginx.pid" "$STACK/gunicorn-a.pid" "$STACK/gunicorn-b.pid"; do
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      rm -f "$pidfile"
    fi
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  env) stack_env; env | grep -E '^(TRAINER_|PROMETHEUS_)' | grep -v SECRET_KEY ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
