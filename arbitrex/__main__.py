from arbitrex.cli import main

main()
