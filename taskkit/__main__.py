from taskkit.cli import main

raise SystemExit(main())
