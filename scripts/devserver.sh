# devserver.sh, sourced by bench-server.sh and ab-server.sh: a throwaway
# `kmipd dev` server on the loopback, and `kmipd bench` against it.
#
# start_dev_server SERVER CLIENT DIR PORT: start `SERVER dev` with its data
# in DIR on 127.0.0.1:PORT in the background (its pid in server_pid, its
# log in DIR.log), and return once CLIENT's bench gets answers from it.
# Exits the script with the log if the server dies first.
#
# dev_bench ARGS...: `CLIENT bench` against the server started last.

server_pid=

start_dev_server() {
	dev_client=$2 dev_certs="$3/certs" dev_port=$4
	"$1" dev --data-dir "$3" --listen "127.0.0.1:$4" --log-level warn >"$3.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 100); do
		if [ -f "$dev_certs/client-key.pem" ] && dev_bench --ops get --connections 1 --duration 100ms >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "$(basename "$0"): $1 dev did not start:" >&2
			cat "$3.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "$(basename "$0"): $1 dev did not answer within 20 s" >&2
	exit 1
}

# stop_dev_server: stop the server started last, if it runs.
stop_dev_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}

dev_bench() {
	"$dev_client" bench --addr "127.0.0.1:$dev_port" --ca "$dev_certs/ca.pem" --cert "$dev_certs/client.pem" \
		--key "$dev_certs/client-key.pem" --server-name localhost "$@"
}
