#!/usr/bin/env bash
# The integration tests talk to real local services. Start one that is down, or fail
# naming it (never skip a test because its service is missing).
set -u
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 "$2"); do port_open "$1" && return 0; sleep 1; done; return 1; }
failed=0

check() {  # name port start-command timeout
  local name=$1 port=$2 start=$3 timeout=$4
  if port_open "$port"; then return 0; fi
  echo "services: $name is down on 127.0.0.1:$port; starting it" >&2
  bash -c "$start" >/dev/null 2>&1 || true
  if wait_port "$port" "$timeout"; then
    echo "services: $name started" >&2
  else
    echo "services: $name is not running on 127.0.0.1:$port and could not be started ($start)" >&2
    failed=1
  fi
}

check Redis 6379 "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log" 15
check RabbitMQ 5672 "rabbitmq-server -detached" 60
check PostgreSQL 5432 "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" 30
exit $failed
