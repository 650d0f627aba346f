import sys

from iwh_synth.cli import main

sys.exit(main())
