from xbench.cli import entry

entry()
