from hermes_gateway.cli import main

raise SystemExit(main())
