import sys

from devstack.terraform_offline.run import main

sys.exit(main())
