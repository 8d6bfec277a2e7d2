"""Print one of README.md's two set-up commands, as written there, so CI runs exactly what a new user reads.

`python .ci/readme_commands.py README.md setup|install|test`: `setup` is the first bash block of "## Set-up"
(install and first run), `install` its part before `&& evalsuite run`, `test` the block that runs pytest.
"""
import re
import sys


def main() -> None:
    readme, which = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
    section = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]
    setup = blocks[0]
    test = next(b for b in blocks if "pytest" in b)
    out = {"setup": setup, "install": setup.split(" && evalsuite run", 1)[0], "test": test}[which]
    if "\n" in out:
        sys.exit(f"README's {which} command spans several lines; CI runs one command")
    print(out)


if __name__ == "__main__":
    main()
