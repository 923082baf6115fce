"""The child process of the llama.cpp test tier: llama.cpp's server (xllamacpp) on 127.0.0.1.

xllamacpp has no server executable: ``xllamacpp.Server(params)`` loads the model and serves llama.cpp's
HTTP API from threads of the calling process. So the tests run it here, in a process of its own that
they can stop (close its stdin, or SIGTERM) or kill mid-request (SIGKILL). It prints the address it
listens on (port 0: the OS picks a free one) as its first line of stdout, then serves until its stdin
closes, which also ends it when the test process dies.

    python serve.py --model FILE.gguf --chat-template-file FILE.jinja [--ctx-size 2048] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="the GGUF file")
    parser.add_argument("--chat-template-file", required=True, help="a Jinja chat template (--jinja)")
    parser.add_argument("--ctx-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.use_jinja = True  # llama-server --jinja
    params.chat_template = Path(args.chat_template_file).read_text()  # --chat-template-file
    params.n_ctx = args.ctx_size
    params.n_parallel = 1  # one slot: the whole context for one request at a time
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.sampling.temp = 0.0  # greedy unless a request says otherwise
    params.sampling.seed = args.seed
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.warmup = False
    params.endpoint_props = True  # GET /props: the template's capabilities, for the fixture's check
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    sys.stdin.read()
    os._exit(0)  # the server's threads are not daemons; nothing is left to flush


if __name__ == "__main__":
    main()
