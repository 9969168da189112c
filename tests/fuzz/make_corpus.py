#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora: tests/fuzz/make_corpus.py [build folder] (default
build/fuzz) fills <build>/corpus/<target>/ with seeds made here (requests, frames, JSON
bodies, query strings) and, for the image target, by <build>/fuzzers/fuzz_image_seeds
(small images encoded by libvips). Nothing binary is kept in the repository.

Each target reads its input as tests/fuzz/*_fuzzer.cpp says; the seeds follow that layout.
"""
import json
import os
import struct
import subprocess
import sys

ARGON2_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# --- the frame codec: byte 0 < 0xe0 decodes the rest as a stream, >= 0xe0 encodes


def frame(kind, job_id, meta, data=b""):
    meta = meta.encode() if isinstance(meta, str) else meta
    payload = struct.pack("<I", len(meta)) + meta + data
    return struct.pack("<IIQ", len(payload), kind, job_id) + payload


def frame_seeds(out):
    ready = frame(1, 0, '{"pid":1234}')
    job = frame(2, 7, '{"job":"digest","alg":"sha256"}', b"hello")
    result = frame(3, 7, '{"digest":"2cf24dba"}', b"\x00\x01\x02")
    error = frame(4, 9, '{"code":"job_failed","message":"no"}')
    seeds = {
        "ready": ready, "job": job, "result": result, "error": error,
        "stream": ready + job + result + error,
        "truncated_header": job[:10], "truncated_payload": job[:-2],
        "bad_kind": frame(9, 1, "{}"), "meta_too_long": struct.pack("<IIQI", 8, 2, 1, 100) + b"abcd",
        "huge_length": struct.pack("<IIQ", 0xFFFFFFFF, 2, 1),
    }
    for name, data in seeds.items():
        write(out, name, b"\x00" + data)
    # Encode mode: kind, job id and meta lengths come from the end of the input.
    write(out, "encode_small", b"\xf0" + b'{"job":"resize"}' + b"\\\n" + b"DATA" + b"\x07" * 9)
    write(out, "encode_empty", b"\xf0" + b"\x00" * 12)


# --- HTTP: raw request bytes


def http_seeds(out):
    h = "Host: fuzz\r\n"

    def post(path, body, ctype="application/json", extra=""):
        body = body.encode() if isinstance(body, str) else body
        return (f"POST {path} HTTP/1.1\r\n{h}Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
                .encode() + body)

    seeds = {
        "ping": f"GET /ping HTTP/1.1\r\n{h}\r\n",
        "head_ping": f"HEAD /ping HTTP/1.1\r\n{h}\r\n",
        "pipelined": f"GET /ping HTTP/1.1\r\n{h}\r\nGET /healthz HTTP/1.1\r\n{h}X-Request-Id: abc-1\r\n\r\n"
                     f"GET /readyz HTTP/1.1\r\n{h}Connection: close\r\n\r\n",
        "http10": "GET /ping HTTP/1.0\r\n\r\n",
        "http10_keepalive": "GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
        "absolute_form": "GET http://fuzz/ping?x=1 HTTP/1.1\r\nHost: fuzz\r\n\r\n",
        "no_host": "GET /ping HTTP/1.1\r\n\r\n",
        "not_found": f"GET /nowhere/%2e%2e/x HTTP/1.1\r\n{h}\r\n",
        "wrong_method": f"DELETE /ping HTTP/1.1\r\n{h}\r\n",
        "password_hash": post("/passwords/hash", '{"password":"correct horse"}'),
        "password_verify": post("/passwords/verify", json.dumps({"password": "x", "hash": ARGON2_HASH})),
        "password_bad_json": post("/passwords/hash", '{"password":'),
        "password_wrong_type": post("/passwords/hash", '{"password":"x"}', "text/plain"),
        "users": post("/users", '{"username":"alice_1","password":"secret"}'),
        "users_bad_name": post("/users", '{"username":"a b","password":"secret"}'),
        "user_get": f"GET /users/alice HTTP/1.1\r\n{h}\r\n",
        "login": post("/login", '{"username":"alice","password":"secret"}'),
        "kv_put": f"PUT /kv/a%2Fb/c%20d HTTP/1.1\r\n{h}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        "kv_get": f"GET /kv/some/key HTTP/1.1\r\n{h}If-None-Match: \"1-00\", *\r\n\r\n",
        "kv_list": f"GET /kv?prefix=a&limit=10&after=b HTTP/1.1\r\n{h}\r\n",
        "kv_delete": f"DELETE /kv/x HTTP/1.1\r\n{h}\r\n",
        "kv_bad_utf8": f"GET /kv/%ff%fe HTTP/1.1\r\n{h}\r\n",
        "hash_sha": post("/hash?alg=sha512", "abc", "application/octet-stream"),
        "resize": post("/images/resize?width=10&height=20&fit=cover&format=png&quality=50",
                       b"\x89PNG\r\n\x1a\n", "image/png"),
        "resize_bad_query": post("/images/resize?width=-1&width=2", b"x", "image/png"),
        "resolve": f"GET /legacy/resolve?host=localhost HTTP/1.1\r\n{h}\r\n",
        "resolve_bad": f"GET /legacy/resolve?host=a+b%00 HTTP/1.1\r\n{h}\r\n",
        "chunked": f"POST /passwords/hash HTTP/1.1\r\n{h}Transfer-Encoding: chunked\r\n\r\n"
                   '7\r\n{"passw\r\n10\r\nord":"abcdefgh"}\r\n0\r\n\r\n',
        "expect_continue": post("/users", '{"username":"bob","password":"pw"}', extra="Expect: 100-continue\r\n"),
        "too_large": f"POST /passwords/hash HTTP/1.1\r\n{h}Content-Length: 99999999999\r\n\r\n",
        "too_large_expect": f"POST /users HTTP/1.1\r\n{h}Content-Length: 20000\r\nExpect: 100-continue\r\n\r\n",
        "bad_content_length": f"POST /users HTTP/1.1\r\n{h}Content-Length: 1x\r\n\r\n",
        "bad_request_line": "GET\r\n\r\n",
        "header_too_large": f"GET /ping HTTP/1.1\r\n{h}X-Big: {'a' * 17000}\r\n\r\n",
        "request_id_injection": f"GET /ping HTTP/1.1\r\n{h}X-Request-Id: a\r\n b\r\n\r\n",
    }
    for name, data in seeds.items():
        write(out, name, data)


# --- query strings and path segments: target, "\\\n", then numbers read from the end


def query_seeds(out):
    targets = [
        "/images/resize?width=100&height=200&fit=inside&format=jpeg&quality=80",
        "/kv/a%2Fb/c?prefix=x&limit=1000&after=%E2%82%AC",
        "/users/alice?width=1&width=2",
        "/kv?limit=-1&limit=+5&quality=007",
        "/demo/cpu/100?ms=9223372036854775808",
        "http://host:80/ping?a+b=c+d&%zz",
        "/?=&&=x&y",
        "//a//b/?q#frag",
    ]
    for i, t in enumerate(targets):
        write(out, f"target_{i}", t.replace("\\", "\\\\").encode() + b"\\\n12345\\\n" + bytes(range(16)))


# --- JSON bodies: the body, then the content-type choice and the route (read from the end)


def json_seeds(out):
    bodies = [
        (0, {"password": "correct horse battery staple"}),
        (0, {"password": ""}),
        (0, {"password": 12}),
        (1, {"password": "x", "hash": ARGON2_HASH}),
        (1, {"password": "x", "hash": "$argon2id$v=19$m=999999,t=99,p=1$c2FsdHNhbHRzYWx0c2FsdA$" + "B" * 43}),
        (1, {"password": "x", "hash": "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaA"}),
        (2, {"username": "alice_1", "password": "pw"}),
        (2, {"username": "al", "password": "pw"}),
        (2, {"username": "a\u00e9b", "password": "pw"}),
        (2, {"username": "x" * 65, "password": "pw"}),
    ]
    for i, (route, body) in enumerate(bodies):
        write(out, f"body_{i}", json.dumps(body).encode() + bytes([1, route]))
    write(out, "not_json", b'{"password": tru' + bytes([1, 0]))
    write(out, "array", b'["password"]' + bytes([0, 2]))
    write(out, "deep", b"[" * 100 + bytes([1, 1]))
    write(out, "text_plain", b'{"password":"x"}' + bytes([2, 0]))
    write(out, "odd_type", b'{"password":"x"}' + b"\\\n" + bytes([3, 0]))
    write(out, "hash_only", ARGON2_HASH.encode() + bytes([0, 3]))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/fuzz"
    corpus = os.path.join(build, "corpus")
    frame_seeds(os.path.join(corpus, "fuzz_frame"))
    http_seeds(os.path.join(corpus, "fuzz_http"))
    query_seeds(os.path.join(corpus, "fuzz_query"))
    json_seeds(os.path.join(corpus, "fuzz_json_body"))
    seeds = os.path.join(build, "fuzzers", "fuzz_image_seeds")
    subprocess.run([seeds, os.path.join(corpus, "fuzz_image")], check=True)
    for target in sorted(os.listdir(corpus)):
        print(f"{target}: {len(os.listdir(os.path.join(corpus, target)))} seeds")


if __name__ == "__main__":
    main()
