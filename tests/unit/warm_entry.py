"""A stand-in for ``prefect.engine`` in the warm-start tests: reports what the forked run received."""

import os
import signal
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    if (ignored := int(os.environ.get("WARM_TEST_IGNORE_TERMS", "0"))) > 0:  # a run that loses SIGTERMs
        seen = []
        signal.signal(signal.SIGTERM, lambda *_: seen.append(1) if len(seen) < ignored else sys.exit(143))
    Path(os.environ["WARM_TEST_PID_FILE"]).write_text(str(os.getpid()))
    sys.stdout.write(f"cwd={os.getcwd()} marker={os.environ.get('WARM_TEST_MARKER')}\n")
    sys.stdout.flush()
    time.sleep(float(os.environ.get("WARM_TEST_SLEEP", "0")))
    sys.exit(int(os.environ.get("WARM_TEST_EXIT", "0")))
