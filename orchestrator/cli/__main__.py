import sys

from retort.orchestrator.cli.main import main

sys.exit(main())
