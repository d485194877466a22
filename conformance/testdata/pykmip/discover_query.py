#!/usr/bin/python3
"""Discover Versions and Query against kmipd with PyKMIP's client.

Usage: discover_query.py HOST PORT CA_FILE CERT_FILE KEY_FILE

Run by conformance/pykmip_test.go with Debian's python3-pykmip (0.10) on
/usr/bin/python3. Prints one JSON document on stdout: one entry per run
(TLS setting x KMIP version) with the negotiated TLS version and cipher
and what the server answered, or the error. The Go test judges it.

PyKMIP 0.10's KMIPProxy wraps its socket with ssl.wrap_socket (Python
3.11 still has it) using OpenSSL's default cipher list; no cipher
configuration is needed against kmipd. ssl_version PROTOCOL_TLSv1_2 pins
TLS 1.2, the version PyKMIP's documentation and the KMIP 1.4 profiles
name; PROTOCOL_SSLv23 (PyKMIP's default) negotiates TLS 1.3.
"""

import json
import logging
import sys
import tempfile
import traceback

from kmip.core import enums
from kmip.services.kmip_client import KMIPProxy

KMIP_VERSIONS = [
    ("1.2", enums.KMIPVersion.KMIP_1_2),
    ("1.4", enums.KMIPVersion.KMIP_1_4),
    ("2.0", enums.KMIPVersion.KMIP_2_0),
]

SSL_VERSIONS = ["PROTOCOL_TLSv1_2", "PROTOCOL_SSLv23"]


def enum_names(values):
    return [v.name for v in (values or [])]


def one_run(host, port, ca, cert, key, ssl_version, kmip_name, kmip_version,
            config_file):
    run = {"ssl": ssl_version, "kmip": kmip_name}
    proxy = KMIPProxy(
        config_file=config_file,
        host=host,
        port=port,
        certfile=cert,
        keyfile=key,
        ca_certs=ca,
        cert_reqs="CERT_REQUIRED",
        ssl_version=ssl_version,
        timeout=20,
        kmip_version=kmip_version,
    )
    proxy.open()
    try:
        run["tls"] = proxy.socket.version()
        run["cipher"] = proxy.socket.cipher()[0]

        r = proxy.discover_versions()
        run["discover"] = {
            "status": r.result_status.value.name,
            "versions": ["%s.%s" % (v.major, v.minor)
                         for v in (r.protocol_versions or [])],
        }

        r = proxy.discover_versions(protocol_versions=[
            enums_protocol_version(1, 2), enums_protocol_version(1, 0)])
        run["discover_subset"] = {
            "status": r.result_status.value.name,
            "versions": ["%s.%s" % (v.major, v.minor)
                         for v in (r.protocol_versions or [])],
        }

        r = proxy.query(query_functions=[
            enums.QueryFunction.QUERY_OPERATIONS,
            enums.QueryFunction.QUERY_OBJECTS,
            enums.QueryFunction.QUERY_SERVER_INFORMATION,
        ])
        run["query"] = {
            "status": r.result_status.value.name,
            "operations": enum_names(r.operations),
            "objects": enum_names(r.object_types),
            "vendor": getattr(r.vendor_identification, "value",
                              r.vendor_identification),
            "server_information": r.server_information is not None,
        }
    finally:
        proxy.close()
    return run


def enums_protocol_version(major, minor):
    from kmip.core.messages.contents import ProtocolVersion
    return ProtocolVersion(major, minor)


def main():
    logging.basicConfig(level=logging.ERROR)
    host, port, ca, cert, key = sys.argv[1:6]
    runs = []
    # An empty configuration file, so that PyKMIP reads neither
    # ~/.pykmip/pykmip.conf nor /etc/pykmip/pykmip.conf: only the
    # arguments below count.
    with tempfile.NamedTemporaryFile(suffix=".conf") as conf:
        for ssl_version in SSL_VERSIONS:
            for kmip_name, kmip_version in KMIP_VERSIONS:
                try:
                    runs.append(one_run(host, int(port), ca, cert, key,
                                        ssl_version, kmip_name, kmip_version,
                                        conf.name))
                except Exception:  # reported to the Go test, which fails
                    runs.append({"ssl": ssl_version, "kmip": kmip_name,
                                 "error": traceback.format_exc()})
    json.dump({"runs": runs}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
