"""A stand-in for ``prefect.engine`` in the warm-start tests: reports what the forked run received."""

import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    Path(os.environ["WARM_TEST_PID_FILE"]).write_text(str(os.getpid()))
    sys.stdout.write(f"cwd={os.getcwd()} marker={os.environ.get('WARM_TEST_MARKER')}\n")
    sys.stdout.flush()
    time.sleep(float(os.environ.get("WARM_TEST_SLEEP", "0")))
    sys.exit(int(os.environ.get("WARM_TEST_EXIT", "0")))
