import sys

from cli.main import PipeSafe, main

sys.stdout = PipeSafe(sys.stdout)  # no traceback when piped into `head`
sys.exit(main())
