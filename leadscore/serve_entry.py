"""`python -O -m leadscore.serve_entry --host H --port P --workers N`: the server process.

`leadscore serve` re-executes itself here with -O (see leadscore.commands.service.run_server).
"""

from leadscore.commands.service import serve_main

if __name__ == "__main__":
    serve_main()
