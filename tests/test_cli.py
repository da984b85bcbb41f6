"""The command line's basic contract."""

from sysmond import __version__
from sysmond.cli import main


def test_version_prints_the_package_version(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"sysmond {__version__}"
