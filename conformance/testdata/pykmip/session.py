#!/usr/bin/python3
"""A full PyKMIP ProxyKmipClient session against kmipd.

Usage: session.py HOST PORT CA_FILE CERT_FILE KEY_FILE KMIP_VERSION
                  CERT_DER_FILE KNOWN_KEY_HEX NAME

Run by conformance/pykmip_session_test.go with Debian's python3-pykmip
(0.10) on /usr/bin/python3. Every operation ProxyKmipClient offers is
exercised on symmetric keys, an RSA key pair, a certificate, secret data
and an opaque object. Each step prints one JSON line on stdout:

    {"step": NAME, "ok": true|false, "error": TEXT, "reason": RESULT_REASON,
     "data": {...}}

"reason" is the KMIP Result Reason name when the server refused the
operation. The Go test judges every line (this script checks only what it
alone can, e.g. an HMAC against Python's hmac module); a step whose input
came from a failed step fails too, with the Python error.
"""

import binascii
import hashlib
import hmac
import json
import logging
import sys
import tempfile
import traceback

from kmip import enums
from kmip.core.factories import attributes as attribute_factories
from kmip.pie import exceptions
from kmip.pie import objects
from kmip.pie.client import ProxyKmipClient

VERSIONS = {
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
}

PLAINTEXT = b"kmipd PyKMIP session: 32 bytes!!" * 3
SECRET = b"correct horse battery staple"
OPAQUE = b"\x00\x01opaque blob\xfe\xff"


def hexs(b):
    return binascii.hexlify(b).decode("ascii") if b is not None else None


class Session(object):
    def __init__(self):
        self.results = {}

    def step(self, name, fn):
        """Run fn; print its outcome; return its value (None on failure)."""
        line = {"step": name, "ok": True, "error": "", "reason": "",
                "data": {}}
        value = None
        try:
            value = fn()
            if isinstance(value, tuple) and len(value) == 2 and \
                    isinstance(value[1], dict):
                value, line["data"] = value
        except exceptions.KmipOperationFailure as e:
            line["ok"] = False
            line["error"] = str(e)
            line["reason"] = e.reason.name if e.reason is not None else ""
        except Exception:  # reported to the Go test, which fails
            line["ok"] = False
            line["error"] = traceback.format_exc()
        sys.stdout.write(json.dumps(line, sort_keys=True) + "\n")
        sys.stdout.flush()
        return value


def attr_value(a):
    v = a.attribute_value
    if hasattr(v, "name_value"):  # Name
        return v.name_value.value
    v = getattr(v, "value", v)
    if hasattr(v, "name"):  # an enumeration
        return v.name
    return str(v)


def main():
    logging.basicConfig(level=logging.ERROR)
    (host, port, ca, cert, key, version, cert_der_file, known_key_hex,
     name) = sys.argv[1:10]
    with open(cert_der_file, "rb") as f:
        cert_der = f.read()
    known_key = binascii.unhexlify(known_key_hex)
    factory = attribute_factories.AttributeFactory()
    s = Session()

    # An empty configuration file: neither ~/.pykmip/pykmip.conf nor
    # /etc/pykmip/pykmip.conf may change the settings.
    with tempfile.NamedTemporaryFile(suffix=".conf") as conf:
        c = ProxyKmipClient(hostname=host, port=int(port), cert=cert,
                            key=key, ca=ca, config_file=conf.name,
                            kmip_version=VERSIONS[version])
        c.open()
        try:
            session(c, s, factory, cert_der, known_key, name)
        finally:
            c.close()


def session(c, s, factory, cert_der, known_key, name):
    E = enums
    aes_params = {
        "cryptographic_algorithm": E.CryptographicAlgorithm.AES,
        "block_cipher_mode": E.BlockCipherMode.CBC,
        "padding_method": E.PaddingMethod.PKCS5,
    }
    rsa_params = {
        "cryptographic_algorithm": E.CryptographicAlgorithm.RSA,
        "hashing_algorithm": E.HashingAlgorithm.SHA_256,
        "padding_method": E.PaddingMethod.PKCS1v15,
    }

    # Creation.
    def create():
        uid = c.create(E.CryptographicAlgorithm.AES, 256, name=name,
                       cryptographic_usage_mask=[
                           E.CryptographicUsageMask.ENCRYPT,
                           E.CryptographicUsageMask.DECRYPT])
        return uid, {"uid": uid}
    key_uid = s.step("create", create)

    def create_key_pair():
        pub, priv = c.create_key_pair(
            E.CryptographicAlgorithm.RSA, 2048,
            public_name=name + "-pub",
            public_usage_mask=[E.CryptographicUsageMask.VERIFY],
            private_name=name + "-priv",
            private_usage_mask=[E.CryptographicUsageMask.SIGN])
        return (pub, priv), {"public": pub, "private": priv}
    pub_uid, priv_uid = s.step("create_key_pair", create_key_pair) or \
        (None, None)

    def register(obj):
        def fn():
            uid = c.register(obj)
            return uid, {"uid": uid}
        return fn
    known_uid = s.step("register_symmetric_key", register(objects.SymmetricKey(
        E.CryptographicAlgorithm.AES, 256, known_key,
        masks=[E.CryptographicUsageMask.ENCRYPT,
               E.CryptographicUsageMask.DECRYPT],
        name=name + "-known")))
    cert_uid = s.step("register_certificate", register(
        objects.X509Certificate(cert_der, name=name + "-cert")))
    secret_uid = s.step("register_secret_data", register(objects.SecretData(
        SECRET, E.SecretDataType.PASSWORD,
        masks=[E.CryptographicUsageMask.DERIVE_KEY],
        name=name + "-secret")))
    opaque_uid = s.step("register_opaque_object", register(
        objects.OpaqueObject(OPAQUE, E.OpaqueDataType.NONE,
                             name=name + "-opaque")))

    # Retrieval.
    def get_created():
        k = c.get(key_uid)
        if not isinstance(k, objects.SymmetricKey):
            raise AssertionError("got a %s" % type(k).__name__)
        return None, {"length": len(k.value),
                      "algorithm": k.cryptographic_algorithm.name}
    s.step("get", get_created)

    def get_same(uid, want, cls):
        def fn():
            o = c.get(uid)
            if not isinstance(o, cls):
                raise AssertionError("got a %s" % type(o).__name__)
            if o.value != want:
                raise AssertionError("got other bytes than registered")
            return None, {"length": len(o.value)}
        return fn
    s.step("get_symmetric_key", get_same(known_uid, known_key,
                                         objects.SymmetricKey))
    s.step("get_certificate", get_same(cert_uid, cert_der,
                                       objects.X509Certificate))
    s.step("get_secret_data", get_same(secret_uid, SECRET,
                                       objects.SecretData))
    s.step("get_opaque_object", get_same(opaque_uid, OPAQUE,
                                         objects.OpaqueObject))

    def get_public():
        k = c.get(pub_uid)
        if not isinstance(k, objects.PublicKey):
            raise AssertionError("got a %s" % type(k).__name__)
        return None, {"der": hexs(k.value), "format": k.key_format_type.name}
    s.step("get_public_key", get_public)

    def get_private():
        k = c.get(priv_uid)
        if not isinstance(k, objects.PrivateKey):
            raise AssertionError("got a %s" % type(k).__name__)
        return None, {"format": k.key_format_type.name,
                      "length": k.cryptographic_length}
    s.step("get_private_key", get_private)

    def get_attributes():
        uid, attrs = c.get_attributes(key_uid, [
            "State", "Cryptographic Algorithm", "Cryptographic Length",
            "Name"])
        out = {}
        for a in attrs:
            out[a.attribute_name.value] = attr_value(a)
        return None, {"uid": uid, "attributes": out}
    s.step("get_attributes", get_attributes)

    def get_attribute_list():
        names = c.get_attribute_list(key_uid)
        return None, {"names": sorted(names)}
    s.step("get_attribute_list", get_attribute_list)

    def locate():
        uids = c.locate(attributes=[
            factory.create_attribute(E.AttributeType.NAME, name)])
        return None, {"uids": uids}
    s.step("locate", locate)

    # Lifecycle and cryptography.
    for step, uid in [("activate", key_uid), ("activate_known", known_uid),
                      ("activate_private", priv_uid),
                      ("activate_public", pub_uid),
                      ("activate_secret", secret_uid)]:
        s.step(step, lambda uid=uid: c.activate(uid))

    def encrypt_decrypt():
        params = dict(aes_params, random_iv=True)
        ct, iv = c.encrypt(PLAINTEXT, uid=key_uid,
                           cryptographic_parameters=params)
        if iv is None:
            raise AssertionError("server generated no IV for random_iv")
        pt = c.decrypt(ct, uid=key_uid, cryptographic_parameters=aes_params,
                       iv_counter_nonce=iv)
        if pt != PLAINTEXT:
            raise AssertionError("decrypt does not invert encrypt")
        return None, {"iv": hexs(iv), "ciphertext": hexs(ct)}
    s.step("encrypt_decrypt", encrypt_decrypt)

    def encrypt_known():
        iv = b"\x10" * 16
        ct, _ = c.encrypt(PLAINTEXT, uid=known_uid,
                          cryptographic_parameters=aes_params,
                          iv_counter_nonce=iv)
        return None, {"iv": hexs(iv), "ciphertext": hexs(ct),
                      "plaintext": hexs(PLAINTEXT)}
    s.step("encrypt", encrypt_known)

    def decrypt_known():
        iv = b"\x10" * 16
        ct, _ = c.encrypt(PLAINTEXT, uid=known_uid,
                          cryptographic_parameters=aes_params,
                          iv_counter_nonce=iv)
        pt = c.decrypt(ct, uid=known_uid,
                       cryptographic_parameters=aes_params,
                       iv_counter_nonce=iv)
        if pt != PLAINTEXT:
            raise AssertionError("decrypt returned other bytes")
        return None, {}
    s.step("decrypt", decrypt_known)

    def sign():
        sig = c.sign(PLAINTEXT, uid=priv_uid,
                     cryptographic_parameters=rsa_params)
        return sig, {"signature": hexs(sig), "message": hexs(PLAINTEXT)}
    signature = s.step("sign", sign)

    def verify(message, want):
        def fn():
            v = c.signature_verify(message, signature, uid=pub_uid,
                                   cryptographic_parameters=rsa_params)
            if v != want:
                raise AssertionError("validity %s, want %s" % (v, want))
            return None, {"validity": v.name}
        return fn
    s.step("signature_verify", verify(PLAINTEXT,
                                      E.ValidityIndicator.VALID))
    s.step("signature_verify_tampered", verify(PLAINTEXT + b"!",
                                               E.ValidityIndicator.INVALID))

    def mac():
        uid = c.create(E.CryptographicAlgorithm.HMAC_SHA256, 256,
                       name=name + "-hmac",
                       cryptographic_usage_mask=[
                           E.CryptographicUsageMask.MAC_GENERATE,
                           E.CryptographicUsageMask.MAC_VERIFY])
        c.activate(uid)
        got_uid, tag = c.mac(PLAINTEXT, uid=uid,
                             algorithm=E.CryptographicAlgorithm.HMAC_SHA256)
        key = c.get(uid).value
        want = hmac.new(key, PLAINTEXT, hashlib.sha256).digest()
        if got_uid != uid or tag != want:
            raise AssertionError("MAC differs from Python's HMAC-SHA256")
        return None, {"length": len(tag)}
    s.step("mac", mac)

    def derive_key():
        uid = c.derive_key(
            E.ObjectType.SYMMETRIC_KEY, [secret_uid],
            E.DerivationMethod.PBKDF2,
            {"cryptographic_parameters": {
                "hashing_algorithm": E.HashingAlgorithm.SHA_256},
             "salt": b"kmipd-salt", "iteration_count": 1000},
            cryptographic_algorithm=E.CryptographicAlgorithm.AES,
            cryptographic_length=128)
        k = c.get(uid)
        want = hashlib.pbkdf2_hmac("sha256", SECRET, b"kmipd-salt", 1000,
                                   16)
        if k.value != want:
            raise AssertionError("derived key differs from Python's PBKDF2")
        return uid, {"uid": uid}
    s.step("derive_key", derive_key)

    # Retirement.
    def revoke():
        c.revoke(E.RevocationReasonCode.CESSATION_OF_OPERATION, key_uid)
        _, attrs = c.get_attributes(key_uid, ["State"])
        return None, {"state": attr_value(attrs[0])}
    s.step("revoke", revoke)
    s.step("destroy", lambda: c.destroy(key_uid))
    for step, uid in [("destroy_certificate", cert_uid),
                      ("destroy_opaque_object", opaque_uid)]:
        s.step(step, lambda uid=uid: c.destroy(uid))

    def get_destroyed():
        try:
            c.get(key_uid)
        except exceptions.KmipOperationFailure as e:
            return None, {"reason": e.reason.name}
        raise AssertionError("Get of a destroyed key succeeded")
    s.step("get_destroyed", get_destroyed)


if __name__ == "__main__":
    main()
