"""`vlmr1` with the fault plugins installed, for tests that run it as a real process.

``VLMR1_TEST_ENOSPC_AFTER=N`` makes writes to a ``.partial`` file fail with ENOSPC once
N bytes are in it, for systems where a test cannot mount a small file system.
"""

import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fault_plugins  # noqa: E402

_limit = os.environ.get("VLMR1_TEST_ENOSPC_AFTER")
if _limit:
    _write = os.write

    def _full_disk_write(fd: int, data) -> int:  # noqa: ANN001
        try:
            partial = os.readlink(f"/proc/self/fd/{fd}").endswith(".partial")
        except OSError:
            partial = False
        if partial and os.fstat(fd).st_size + len(data) > int(_limit):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _write(fd, data)

    os.write = _full_disk_write

fault_plugins.install()
from vlmr1.cli import main  # noqa: E402

main()
