#!/usr/bin/env python3
"""Keeps README.md and docs/*.md true to the repository they describe.

    python3 scripts/check-docs.py               # checks README.md and docs/*.md
    python3 scripts/check-docs.py --self-test   # plants broken links and commands, must catch each

What it checks, in every one of those files:

- every relative Markdown link (`[text](path)`, `[text](path#anchor)`, `[text](#anchor)`, and
  reference definitions `[id]: path`) names a file or directory inside the repository, and an
  `#anchor` names a heading of the target Markdown file (GitHub's slugs: lower case, punctuation
  dropped, spaces to hyphens, `-1`, `-2`... for repeats);
- every `cargo` command in a fenced code block or an inline code span: `-p`/`--package` names a
  workspace package; `--test`, `--bin` and `--example` name a target of that package (of the
  default members without `-p`, of any member with `--workspace`);
- every path in code under the repository's own top-level directories (`scripts/…`, `tests/…`,
  `shared/…`, ...) exists, unless it is under a git-ignored directory (made at run time);
- every other file named in code with a source-like extension (.rs, .toml, .yaml, .yml, .sh, .py,
  .js, .mjs, .md, .json, .html): a relative path (`omnilab/auth/fleet.rs`) resolves from the root,
  the doc's folder, or a workspace crate or its src/; a bare name (`fleet.rs`) is the name of a
  tracked file;
- every Rust item path in inline code (`view::render`, `bookings::aws::aws_roots_pem`) whose first
  segment is `bookings::`, the sandbox's `sandbox::` or a module of theirs resolves: each module
  segment to a file or folder of the crate's src/, then an item the module's file declares or
  re-exports. Never in prose; never a path of std's or another crate's, nor a type's (`Route::List`).

And that docs/deploy.md's parameter table (the first table after its `### Parameters` heading)
has one row per parameter of template.yaml, no other, each with the template's default (`–` for
none, `empty` for "").

And in the comments of the repository's own source files (Rust, shell, Python, TOML, YAML,
JavaScript and HTML, as git lists them): every such path exists (a relative one from the root,
the file's folder, its crate or the crate's src/; a bare name is a tracked file's), and no comment
cites an issue number (a tracker's number means nothing to a reader: a comment says the reason).
The Rust item paths in a comment's code spans and intra-doc links (`[view::render]`) resolve too,
and in a library's own files `crate::`, `self::` and `super::` from the file's module. A comment is
what the language's lexer would take for one: whole-line or after code, `//`, `/* */`, `#` or
`<!-- -->`, never a `//` or `#` inside a string (or a shell heredoc's text).

It prints what it checked and each problem as `file:line: problem`, and exits 1 if there is one.
Standard library only; the workspace comes from `cargo metadata --no-deps` (or, without cargo,
from the Cargo.toml files). Run by scripts/test.sh, --quick included (it takes well under a second).
"""

from __future__ import annotations

import bisect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Paths in code that start with one of these are paths of this repository, relative to its root.
REPO_DIRS = ("scripts", "tests", "docs", "shared", "sandbox", "dev-server", "functions", "fuzz",
             "pipeline", ".github", ".cargo", ".ci")
PATH_IN_CODE = re.compile(
    r"(?<![\w./~$-])((?:%s)/[A-Za-z0-9_./-]*)" % "|".join(re.escape(d) for d in REPO_DIRS))
# Text that stands for something to fill in: never checked.
PLACEHOLDER = re.compile(r"[<>…$*{}]|\.\.\.")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
INLINE_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
CARGO = re.compile(r"(?<![\w/.-])cargo\s+")


@dataclass
class Package:
    name: str
    targets: dict[str, set[str]] = field(default_factory=dict)  # kind ("bin", "test", ...) -> names
    directory: Path | None = None


@dataclass
class Workspace:
    packages: dict[str, Package]
    default_members: list[str]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    links: int = 0
    anchors: int = 0
    commands: int = 0
    paths: int = 0
    sources: int = 0
    comment_paths: int = 0
    file_names: int = 0
    item_paths: int = 0
    parameters: int = 0

    def problem(self, where: str, line: int, what: str) -> None:
        self.problems.append(f"{where}:{line}: {what}")


# ---------------------------------------------------------------------------------------------
# The workspace


def workspace(root: Path) -> Workspace:
    try:
        out = subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline",
             "--manifest-path", str(root / "Cargo.toml")],
            check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return workspace_from_manifests(root)
    meta = json.loads(out)
    packages = {}
    by_id = {}
    for pkg in meta["packages"]:
        p = Package(pkg["name"], directory=Path(pkg["manifest_path"]).parent)
        for target in pkg["targets"]:
            for kind in target["kind"]:
                kind = "lib" if kind in ("lib", "rlib", "cdylib", "staticlib", "dylib", "proc-macro") else kind
                p.targets.setdefault(kind, set()).add(target["name"])
        packages[p.name] = p
        by_id[pkg["id"]] = p.name
    defaults = [by_id[i] for i in meta.get("workspace_default_members") or meta["workspace_members"]]
    return Workspace(packages, defaults)


def workspace_from_manifests(root: Path) -> Workspace:
    """Without cargo: the members' Cargo.toml, with cargo's target auto-discovery."""
    import tomllib

    top = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]
    packages = {}
    dirs = {}
    for member in top["members"]:
        manifest = tomllib.loads((root / member / "Cargo.toml").read_text())
        pkg = manifest["package"]
        base = root / member
        p = Package(pkg["name"], directory=base)
        if (base / "src/main.rs").exists():
            p.targets.setdefault("bin", set()).add(p.name)
        if "lib" in manifest or (base / "src/lib.rs").exists():
            p.targets.setdefault("lib", set()).add(manifest.get("lib", {}).get("name", p.name.replace("-", "_")))
        auto = {"bin": ("src/bin", "autobins"), "test": ("tests", "autotests"),
                "example": ("examples", "autoexamples"), "bench": ("benches", "autobenches")}
        for kind, (folder, switch) in auto.items():
            if pkg.get(switch, True) and (base / folder).is_dir():
                for f in (base / folder).iterdir():
                    if f.suffix == ".rs" or (f / "main.rs").exists():
                        p.targets.setdefault(kind, set()).add(f.stem)
            for target in manifest.get(kind, []):
                p.targets.setdefault(kind, set()).add(target["name"])
        packages[p.name] = p
        dirs[member] = p.name
    defaults = [dirs[m] for m in top.get("default-members", top["members"])]
    return Workspace(packages, defaults)


# ---------------------------------------------------------------------------------------------
# Markdown


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (github-slugger, near enough for ASCII and accents)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.strip().lower()
    return "".join(c for c in text if c.isalnum() or c in " -_").replace(" ", "-")


@dataclass
class Doc:
    path: Path
    lines: list[str]
    # (line number, text) of the lines outside fenced blocks, and of the fenced blocks' lines
    prose: list[tuple[int, str]] = field(default_factory=list)
    code: list[tuple[int, str]] = field(default_factory=list)
    anchors: set[str] = field(default_factory=set)


def parse(path: Path) -> Doc:
    doc = Doc(path, path.read_text(encoding="utf-8").splitlines())
    fence = None
    seen: dict[str, int] = {}
    for number, line in enumerate(doc.lines, 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):]:
                fence = None
            else:
                doc.code.append((number, line))
            continue
        doc.prose.append((number, line))
        h = HEADING.match(line)
        if h:
            base = slug(h.group(2))
            n = seen.get(base, 0)
            doc.anchors.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return doc


def without_code_spans(line: str) -> str:
    return INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)


# ---------------------------------------------------------------------------------------------
# The checks


def check_links(doc: Doc, docs: dict[Path, Doc], root: Path, report: Report) -> None:
    where = doc.path.relative_to(root).as_posix()
    for number, line in doc.prose:
        text = without_code_spans(line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(text)]
        ref = REFERENCE_DEF.match(text)
        if ref:
            targets.append(ref.group(1))
        for target in targets:
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
                continue
            report.links += 1
            file_part, _, anchor = target.partition("#")
            if file_part:
                resolved = (doc.path.parent / file_part).resolve()
                if not resolved.is_relative_to(root):
                    report.problem(where, number, f"link `{target}` leaves the repository")
                    continue
                if not resolved.exists():
                    report.problem(where, number, f"link `{target}`: no such file")
                    continue
            else:
                resolved = doc.path
            if anchor:
                report.anchors += 1
                if resolved.suffix != ".md":
                    continue  # GitHub's line anchors and the like: not ours to check
                target_doc = docs.get(resolved) or parse(resolved)
                if anchor not in target_doc.anchors:
                    report.problem(where, number, f"link `{target}`: no heading with anchor #{anchor} in "
                                   f"{resolved.relative_to(root).as_posix()}")


def code_snippets(doc: Doc) -> list[tuple[int, str]]:
    """(line, text) of each fenced block's logical lines (`\\` continuations joined) and of each
    inline code span."""
    out = []
    pending, start = "", 0
    previous = None
    for number, line in doc.code:
        if pending and previous is not None and number != previous + 1:
            out.append((start, pending))
            pending = ""
        previous = number
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    for number, line in doc.prose:
        for m in INLINE_CODE.finditer(line):
            out.append((number, m.group(2)))
    return out


def shell_words(command: str) -> list[str]:
    command = re.split(r"\s#", " " + command, maxsplit=1)[0]  # a trailing comment
    command = re.split(r"&&|\|\||[;|)]", command, maxsplit=1)[0]
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def check_cargo(words: list[str], ws: Workspace, where: str, number: int, report: Report) -> None:
    """words: what follows `cargo`."""
    if words and words[0].startswith("+"):
        words = words[1:]
    if not words or words[0] in ("install", "fuzz", "uninstall", "search", "add", "new", "init"):
        return  # not about this workspace's packages and targets
    report.commands += 1
    packages, wanted, everything = [], [], False
    i = 1
    while i < len(words):
        word = words[i]
        if word == "--":
            break  # the rest goes to the program or the test harness
        flag, value = word, None
        if word.startswith("--") and "=" in word:
            flag, value = word.split("=", 1)
        elif re.fullmatch(r"-p\S+", word):
            flag, value = "-p", word[2:]
        if flag in ("-p", "--package", "--test", "--bin", "--example", "--bench"):
            if value is None:
                i += 1
                value = words[i] if i < len(words) else ""
            if PLACEHOLDER.search(value) or not value:
                pass
            elif flag in ("-p", "--package"):
                packages.append(value)
            else:
                wanted.append((flag[2:], value))
        elif flag in ("--workspace", "--all"):
            everything = True
        i += 1
    for name in packages:
        if name not in ws.packages:
            report.problem(where, number, f"`cargo … -p {name}`: no such package in the workspace "
                           f"({', '.join(sorted(ws.packages))})")
    known = [p for p in packages if p in ws.packages]
    scope = list(ws.packages) if everything else known if packages else ws.default_members
    for kind, name in wanted:
        if packages and not known:
            continue  # already reported
        if not any(name in ws.packages[p].targets.get(kind, ()) for p in scope):
            have = sorted({t for p in scope for t in ws.packages[p].targets.get(kind, ())})
            report.problem(where, number, f"`cargo … --{kind} {name}`: no {kind} target named {name} in "
                           f"{', '.join(scope)} (there: {', '.join(have) or 'none'})")


def ignored_dirs(root: Path) -> list[str]:
    """The .gitignore's root-anchored entries (`/target`, `/tests/artifacts`): made at run time."""
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        return []
    return [line.strip().strip("/") for line in gitignore.read_text().splitlines()
            if line.strip().startswith("/")]


def check_code(doc: Doc, ws: Workspace, repo: Repo, report: Report) -> None:
    """A doc's code: its cargo commands, and the paths and file names in it."""
    root = repo.root
    where = doc.path.relative_to(root).as_posix()
    generated = repo.generated
    bases = doc_bases(doc.path, repo)
    snippets = code_snippets(doc)
    made = names_made_at_run_time([text for _, text in snippets])
    for number, text in snippets:
        check_file_mentions(text, where, number, bases, made, repo, report)
        for m in CARGO.finditer(text):
            check_cargo(shell_words(text[m.end():]), ws, where, number, report)
        for m in PATH_IN_CODE.finditer(text):
            path = m.group(1).rstrip(".,:;")
            rest = text[m.end():m.end() + 1]
            if rest and PLACEHOLDER.match(rest):
                continue  # `scripts/<file>`, `tests/*.rs`: a pattern, not a path
            if any(path == g or path.startswith(g + "/") for g in generated):
                continue
            report.paths += 1
            if not (root / path).exists():
                report.problem(where, number, f"`{path}`: no such file or directory in the repository")


def check_doc_item_paths(doc: Doc, repo: Repo, report: Report) -> None:
    """The Rust item paths in a doc's inline code (`view::render`) resolve."""
    where = doc.path.relative_to(repo.root).as_posix()
    for number, line in doc.prose:
        for item_path in rust_paths(line, intra_doc_links=False):
            check_item_path(item_path, where, number, None, repo.root, repo.items, report)


SOURCE_SUFFIXES = {".rs", ".sh", ".py", ".toml", ".yaml", ".yml", ".js", ".mjs", ".html"}
ISSUE_NUMBER = re.compile(r"\bissues? \d+", re.IGNORECASE)


def source_files(root: Path) -> list[Path]:
    """The repository's own source files: as git lists them, else (the self-test) by walking."""
    skip = {"node_modules", "target", ".venv", "vendor"}
    return [p for p in tracked_files(root) if p.suffix in SOURCE_SUFFIXES
            and not skip.intersection(p.relative_to(root).parts) and p.is_file()]


def tracked_files(root: Path) -> list[Path]:
    """Every file git tracks, else (the self-test, no git) every file under root."""
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True,
                                text=True, check=True).stdout.split("\0")
        return [root / p for p in listed if p]
    except (OSError, subprocess.CalledProcessError):
        return [p for p in root.rglob("*") if p.is_file()]


# ---------------------------------------------------------------------------------------------
# Comments, as each language's lexer sees them: a `//` or `#` inside a string is no comment,
# and a comment after code on the same line is one.

# What can start a comment or a string in Rust and JavaScript (a raw string's `#`s in group 1).
RUST_TOKEN = re.compile(r"//|/\*|(?<!\w)b?r(#*)\"|\"|'")
JS_TOKEN = re.compile(r"//|/\*|[\"'`]")
CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])'")
# A string's rest, its closing quote included, by the quote that opened it.
STRING_REST = {q: re.compile(r"(?:\\.|[^%s\\])*%s" % (q, q), re.DOTALL) for q in "\"'`"}
HTML_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)


@dataclass
class Lexed:
    """A source file split into its comments and its code (strings and comments blanked)."""
    comments: list[tuple[int, str]]  # (line, text of the comment on that line)
    code: str


def line_starts(text: str) -> list[int]:
    """The offset at which each line of text starts."""
    return [0] + [m.end() for m in re.finditer(r"\n", text)]


def comment_lines(text: str, start: int, end: int, starts: list[int]) -> list[tuple[int, str]]:
    """The comment text[start:end], one (line, text) per line it spans, its markers dropped
    (`//`, `///`, `//!`, `/*`, `*/`, a leading `*`)."""
    first = bisect.bisect_right(starts, start)
    out = []
    for offset, piece in enumerate(text[start:end].split("\n")):
        piece = re.sub(r"^\s*(?://+!?|/\*+!?|\*(?!/))?", "", piece)
        piece = re.sub(r"\*+/\s*$", "", piece)
        out.append((first + offset, piece.strip()))
    return out


def c_like_lexed(text: str, rust: bool) -> Lexed:
    """Rust's or JavaScript's `//` and `/* */` comments (nested in Rust), skipping strings: Rust's
    "…", r#"…"# and char literals (a lone `'` is a lifetime), JavaScript's "…", '…' and `…`."""
    starts = line_starts(text)
    found: list[tuple[int, str]] = []
    code = list(text)
    pos = 0
    token = RUST_TOKEN if rust else JS_TOKEN
    while m := token.search(text, pos):
        kind = m.group(0)
        if kind == "//":
            end = text.find("\n", m.start())
            end = len(text) if end < 0 else end
        elif kind == "/*":
            end = block_comment_end(text, m.start(), nested=rust)
        elif rust and kind.endswith('"') and "r" in kind:
            close = text.find('"' + m.group(1), m.end())
            end = len(text) if close < 0 else close + 1 + len(m.group(1))
        elif rust and kind == "'":
            char = CHAR_LITERAL.match(text, m.start())
            end = char.end() if char else m.end()
        else:
            rest = STRING_REST[kind[-1]].match(text, m.end())
            end = rest.end() if rest else len(text)
        if kind in ("//", "/*"):
            found.extend(comment_lines(text, m.start(), end, starts))
        for i in range(m.start(), end):
            if code[i] != "\n":
                code[i] = " "
        pos = max(end, m.end())
    return Lexed(found, "".join(code))


def block_comment_end(text: str, start: int, nested: bool) -> int:
    """Where the block comment opened at start ends: after its `*/` (Rust's nest)."""
    depth, pos = 0, start
    while True:
        m = re.compile(r"/\*|\*/").search(text, pos)
        if not m:
            return len(text)
        depth += 1 if m.group(0) == "/*" else -1
        pos = m.end()
        if depth == 0 or not nested:
            return pos


def python_comments(text: str) -> list[tuple[int, str]]:
    """Python's comments as its own tokenizer finds them (not a `#` inside a string)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return hash_comments(text, "yaml")
    return [(t.start[0], t.string.lstrip("#!").strip()) for t in tokens if t.type == tokenize.COMMENT]


HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1")


def hash_comments(text: str, language: str) -> list[tuple[int, str]]:
    """`#` comments, whole-line or after code, outside quotes, in language: "shell" (`#` starts a
    comment only at a word's start, `\\` escapes; in a heredoc, only a whole line's `#`, the
    embedded script's; a quote left open goes on to the next line), "toml" (anywhere outside a string, which may span lines) or "yaml" (after
    white space; quotes end with their line)."""
    shell = language == "shell"
    word_start, across_lines = language != "toml", language != "yaml"
    found = []
    quote, heredoc = None, None
    for number, line in enumerate(text.splitlines(), 1):
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            elif line.lstrip().startswith("#"):
                found.append((number, line.lstrip().lstrip("#!").strip()))  # the embedded script's
            continue
        if not across_lines:
            quote = None
        i, code_end = 0, len(line)
        while i < len(line):
            c = line[i]
            if quote:
                if c == "\\" and quote == '"':
                    i += 1
                elif c == quote:
                    quote = None
            elif c == "\\" and shell:
                i += 1
            elif c in "\"'":
                quote = c
            elif c == "#" and (not word_start or i == 0 or line[i - 1] in " \t;&|("):
                found.append((number, line[i:].lstrip("#!").strip()))
                code_end = i
                break
            i += 1
        doc = HEREDOC.search(line[:code_end]) if shell and not quote else None
        if doc:
            heredoc = doc.group(2)
    return found


def lexed(path: Path) -> Lexed:
    """path's comments (and, for Rust, its code), by its language."""
    text = path.read_text(errors="replace")
    if path.suffix in (".rs", ".js", ".mjs"):
        return c_like_lexed(text, rust=path.suffix == ".rs")
    if path.suffix == ".py":
        return Lexed(python_comments(text), text)
    if path.suffix == ".html":
        starts = line_starts(text)
        found = [c for m in HTML_COMMENT.finditer(text) for c in comment_lines(text, m.start(1), m.end(1), starts)]
        return Lexed(found, text)
    language = {".sh": "shell", ".toml": "toml"}.get(path.suffix, "yaml")
    return Lexed(hash_comments(text, language), text)


def check_comments(repo: Repo, report: Report) -> None:
    """Source files' comments: no issue number, and the paths and file names in them."""
    root, generated = repo.root, repo.generated
    for path in source_files(root):
        where = path.relative_to(root).as_posix()
        report.sources += 1
        bases = source_bases(path, root)
        found = lexed(path).comments
        made = names_made_at_run_time([text for _, text in found])
        for number, text in found:
            check_file_mentions(text, where, number, bases, made, repo, report)
            for item_path in rust_paths(text, intra_doc_links=path.suffix == ".rs"):
                check_item_path(item_path, where, number, path, root, repo.items, report)
            if ISSUE_NUMBER.search(text):
                report.problem(where, number, "a comment cites an issue number: say the reason instead")
            for m in PATH_IN_CODE.finditer(text):
                found = m.group(1).rstrip(".,:;)")
                rest = text[m.end():m.end() + 1]
                if rest and PLACEHOLDER.match(rest):
                    continue
                if found.endswith("/") or any(found == g or found.startswith(g + "/") for g in generated):
                    continue
                report.comment_paths += 1
                if not (root / found).exists():
                    report.problem(where, number, f"`{found}` in a comment: no such file or directory in the repository")


# ---------------------------------------------------------------------------------------------
# Files named in comments and in docs' code: relative paths and bare names

SOURCE_EXTENSIONS = ("rs", "toml", "yaml", "yml", "sh", "py", "js", "mjs", "md", "json", "html")
# A file named by a relative path or alone, ending in one of those extensions: never the tail of
# a longer path, a URL or a word, nor a method call (`.json(`), nor a name that goes on (`.rs.bak`).
FILE_MENTION = re.compile(
    r"(?<![\w./~$@%%:\\-])((?:[\w.-]+/)*[\w-][\w.-]*\.(?:%s))(?![\w/(-]|\.\w)" % "|".join(SOURCE_EXTENSIONS))


@dataclass
class Repo:
    """What the file-name checks need to know about the repository, gathered once."""
    root: Path
    generated: list[str]        # root-relative directories made at run time (.gitignore's `/x`)
    names: set[str]             # the name of every tracked file
    folders: set[str]           # the name of every folder of a tracked file
    crates: list[Path]          # every workspace member's directory
    items: RustItems            # for the item paths' check


def repo_facts(root: Path, ws: Workspace) -> Repo:
    """The repository's generated directories, tracked files' names and crates' src/."""
    tracked = [p.relative_to(root) for p in tracked_files(root)]
    names = {p.name for p in tracked}
    folders = {folder for p in tracked for folder in p.parts[:-1]}
    crates = [p.directory for p in ws.packages.values() if p.directory]
    return Repo(root, ignored_dirs(root), names, folders, crates, rust_items(root, ws))


def enclosing_crate(path: Path, root: Path) -> Path:
    """The directory of the nearest Cargo.toml above path (the root's, for files of no crate)."""
    for folder in path.parents:
        if (folder / "Cargo.toml").exists() or folder == root:
            return folder
    return root


@dataclass
class Bases:
    """Where a relative path may start, and how to say so in a report."""
    paths: list[Path]
    said: str


def source_bases(path: Path, root: Path) -> Bases:
    """Where a relative path in a source file's comment may start: the repository's root, the
    file's own directory, its crate's directory and that crate's src/."""
    crate = enclosing_crate(path, root)
    names = sorted({f"{d.relative_to(root).as_posix()}/" for d in (path.parent, crate, crate / "src")
                    if d != root})
    return Bases([root, path.parent, crate, crate / "src"], ", ".join(["the root", *names]))


def doc_bases(doc: Path, repo: Repo) -> Bases:
    """Where a relative path in a doc's code may start: the root, the doc's own directory, or any
    workspace crate's directory or src/ (`omnilab/auth/fleet.rs` is shared/src/omnilab/auth/fleet.rs,
    docs/layout.md's `src/lib.rs` in the dev-server/ row is dev-server/src/lib.rs)."""
    here = doc.parent.relative_to(repo.root).as_posix()
    said = "the root, " + (f"{here}/, " if here != "." else "") + "a workspace crate or its src/"
    crates = [base for crate in repo.crates for base in (crate, crate / "src")]
    return Bases([repo.root, doc.parent, *crates], said)


# A file the text makes or feeds at run time (`cat > x.json`, `< x.json`, "writes x.json").
MADE_AT_RUN_TIME = re.compile(r"(?:[<>]|\b(?:writes|creates|saves))\s+`?([\w.-]+)")
# A file named as another project's: "lambda_runtime's `runtime.rs`".
POSSESSIVE = re.compile(r"\w's\s*`?$")
# How JavaScript projects are named (Node.js, Vue.js): our own .js files are lower case.
PRODUCT_NAME = re.compile(r"[A-Z][A-Za-z]*\.js")


def names_made_at_run_time(texts: list[str]) -> set[str]:
    """The names of the files a doc's or a source file's texts make or feed at run time: theirs
    to mention anywhere in that file (`rm candidate.json` after `cat > candidate.json`)."""
    return {m.group(1) for text in texts for m in MADE_AT_RUN_TIME.finditer(text)}


def is_foreign_path(mention: str, repo: Repo) -> bool:
    """Whether the relative path is another project's or the web's: its first folder (past `./`
    and `../`) is no folder of this repository (`samcli/commands/…`, a URL's `monitoring/…`), or
    one of its folders has a dot inside its name (`docs.rs/…`, `github.com/…`: a host name)."""
    folders = [f for f in mention.split("/")[:-1] if f not in (".", "..")]
    if any("." in f[1:] for f in folders):
        return True
    return bool(folders) and folders[0] not in repo.folders


def check_file_mentions(text: str, where: str, number: int, bases: Bases, made: set[str],
                        repo: Repo, report: Report) -> None:
    """Each file named in text with a source-like extension: a relative path must resolve from
    one of bases (`omnilab/auth/fleet.rs`, `../src/aws.rs`), a bare name (`fleet.rs`) must be
    some tracked file's name. Not checked: paths from a top-level directory (`shared/…`, which
    PATH_IN_CODE checks from the root), another project's paths and files (is_foreign_path,
    POSSESSIVE, PRODUCT_NAME) and the files made at run time (made)."""
    for m in FILE_MENTION.finditer(text):
        mention = m.group(1)
        if POSSESSIVE.search(text[:m.start()]) or mention in made:
            continue
        if "/" not in mention:
            check_bare_name(mention, where, number, repo, report)
        elif mention.split("/")[0] not in REPO_DIRS and not is_foreign_path(mention, repo):
            check_relative_path(mention, where, number, bases, repo, report)


def check_bare_name(name: str, where: str, number: int, repo: Repo, report: Report) -> None:
    """`fleet.rs` alone: some tracked file must have that name."""
    if PRODUCT_NAME.fullmatch(name):
        return
    report.file_names += 1
    if name not in repo.names:
        report.problem(where, number, f"`{name}`: no file of that name in the repository")


def check_relative_path(mention: str, where: str, number: int, bases: Bases, repo: Repo,
                        report: Report) -> None:
    """`omnilab/auth/fleet.rs`: a file or directory from one of bases (a path into a generated
    directory, or one that only leaves the repository, is not checked)."""
    inside = []
    for base in bases.paths:
        target = Path(os.path.normpath(base / mention))
        if target.is_relative_to(repo.root):
            inside.append(target.relative_to(repo.root).as_posix())
    if not inside or any(t == g or t.startswith(g + "/") for t in inside for g in repo.generated):
        return
    report.comment_paths += 1
    if not any((repo.root / t).exists() for t in inside):
        report.problem(where, number, f"`{mention}`: no such file relative to {bases.said}")


# ---------------------------------------------------------------------------------------------
# Rust item paths in code spans and intra-doc links: `view::render`, `bookings::aws::aws_roots_pem`

# The library crates whose items docs and comments name, by package.
ITEM_CRATES = ("bookings", "omnilab-sandbox")
RUST_PATH = re.compile(r"(?<![\w:])(?:[A-Za-z_]\w*::)+[A-Za-z_]\w*")
# An intra-doc link in a Rust comment: `[view::render]`, `[text](crate::view::render)`, `[x]: path`.
INTRA_DOC_LINK = re.compile(r"\[([^\]`]+)\](?!\()|\]\(([^)\s]+)\)|^\s*\[[^\]]+\]:\s*(\S+)")
ITEM_DECLARATION = re.compile(
    r"\b(?:(?:const|async|unsafe|extern\s+\"[^\"]*\")\s+)*"
    r"(?:struct|enum|trait|fn|const|static|type|mod|union)\s+(?:mut\s+)?(?:r#)?([A-Za-z_]\w*)")
MACRO_DECLARATION = re.compile(r"\bmacro_rules!\s*([A-Za-z_]\w*)")
REEXPORT = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);")
# std's modules: `error::Error`, `io::Result`, `time::Duration` may be std's, never checked.
STD_MODULES = {
    "alloc", "any", "arch", "array", "ascii", "backtrace", "borrow", "boxed", "cell", "char", "clone",
    "cmp", "collections", "convert", "default", "env", "error", "f32", "f64", "ffi", "fmt", "fs",
    "future", "hash", "hint", "io", "iter", "marker", "mem", "net", "num", "ops", "option", "os",
    "panic", "path", "pin", "prelude", "primitive", "process", "ptr", "rc", "result", "slice", "str",
    "string", "sync", "task", "thread", "time", "vec", "std", "core"}


@dataclass
class RustLibrary:
    """One library crate's modules, as its files under src/ lay them out."""
    name: str                              # as paths start with it: `bookings`, `sandbox`
    src: Path
    modules: dict[tuple[str, ...], Path]   # ("omnilab", "auth") -> shared/src/omnilab/auth/mod.rs


@dataclass
class RustItems:
    """What the item-path check needs, gathered once."""
    libraries: list[RustLibrary]
    external: set[str]                     # dependencies' crate names: their paths are not ours
    rust_files: list[Path]                 # every tracked .rs file
    declared: dict[Path, set[str] | None] = field(default_factory=dict)  # a cache of item_names
    own: dict[Path, set[str]] = field(default_factory=dict)             # a cache of own_modules


def rust_library(name: str, src: Path) -> RustLibrary:
    """The modules of the library whose lib.rs is in src: `x.rs` and `x/mod.rs` are module x
    (src/bin/ and main.rs are binaries, not modules)."""
    modules: dict[tuple[str, ...], Path] = {(): src / "lib.rs"}
    for f in sorted(src.rglob("*.rs")):
        parts = f.relative_to(src).with_suffix("").parts
        if parts[0] == "bin" or parts in (("lib",), ("main",)):
            continue
        modules[parts[:-1] if parts[-1] == "mod" else parts] = f
    return RustLibrary(name, src, modules)


def dependency_names(root: Path, ws: Workspace) -> set[str]:
    """The crate names the workspace's manifests depend on (`lambda_http`, `aws_config`, ...)."""
    names = set()
    manifests = [root / "Cargo.toml"] + [p.directory / "Cargo.toml" for p in ws.packages.values() if p.directory]
    for manifest in manifests:
        if not manifest.exists():
            continue
        section = ""
        for line in manifest.read_text().splitlines():
            header = re.match(r"^\s*\[([^\]]+)\]", line)
            if header:
                section = header.group(1)
                table = re.match(r"(?:.*\.)?(?:dev-|build-)?dependencies\.([\w-]+)$", section)
                if table:
                    names.add(table.group(1).replace("-", "_"))
            elif re.search(r"(?:^|\.)(?:dev-|build-)?dependencies$", section):
                key = re.match(r"^\s*([\w-]+)\s*[.=]", line)
                if key:
                    names.add(key.group(1).replace("-", "_"))
    return names


def rust_items(root: Path, ws: Workspace) -> RustItems:
    """The library crates of ITEM_CRATES in the workspace, the dependencies, the Rust files."""
    libraries = []
    for package in ITEM_CRATES:
        p = ws.packages.get(package)
        if p and p.directory and (p.directory / "src/lib.rs").exists():
            name = next(iter(p.targets.get("lib", ())), package.replace("-", "_"))
            libraries.append(rust_library(name, p.directory / "src"))
    rust_files = [p for p in tracked_files(root) if p.suffix == ".rs"]
    return RustItems(libraries, dependency_names(root, ws), rust_files)


def item_names(path: Path, items: RustItems) -> set[str] | None:
    """The names a module's file declares (struct, enum, trait, fn, const, static, type, mod,
    union, macro_rules!) or re-exports (`pub use`), in its code, not its comments; None when it
    re-exports a glob (`pub use x::*`): any name may be there."""
    if path not in items.declared:
        code = lexed(path).code
        names = {m.group(1) for m in ITEM_DECLARATION.finditer(code)}
        names |= {m.group(1) for m in MACRO_DECLARATION.finditer(code)}
        for m in REEXPORT.finditer(code):
            names |= set(re.findall(r"[A-Za-z_]\w*", m.group(1)))
        glob = any("*" in m.group(1) for m in REEXPORT.finditer(code))
        items.declared[path] = None if glob else names
    return items.declared[path]


def own_modules(crate: Path, items: RustItems) -> set[str]:
    """The names a crate outside ITEM_CRATES may give its own modules: its .rs files' and
    folders' names (tests/support/tls.rs makes a tests comment's `tls::…` its own, not sandbox's)."""
    if crate not in items.own:
        names = set()
        for f in items.rust_files:
            if f.is_relative_to(crate):
                names.add(f.stem)
                names.update(f.relative_to(crate).parts[:-1])
        items.own[crate] = names
    return items.own[crate]


def module_of(path: Path | None, items: RustItems) -> tuple[RustLibrary, tuple[str, ...]] | None:
    """The library and module a file under a library's src/ is, or None."""
    for library in items.libraries:
        for module, file in library.modules.items():
            if file == path:
                return library, module
    return None


def item_path_starts(segments: list[str], path: Path | None, root: Path,
                     items: RustItems) -> list[tuple[RustLibrary, tuple[str, ...], int]]:
    """Where an item path may start: (library, module, index of the next segment), one per
    reading; none when the path is not ours (another crate's, std's, a type's `Route::List`)."""
    first = segments[0]
    for library in items.libraries:
        if first == library.name:
            return [(library, (), 1)]
    if first in ("crate", "self", "super"):
        return relative_item_path_start(segments, path, items)
    if first in items.external or first in STD_MODULES:
        return []
    if path is not None:
        crate = enclosing_crate(path, root)
        if crate != root and all(crate != lib.src.parent for lib in items.libraries) \
                and first in own_modules(crate, items):
            return []
    return [(library, module, 1) for library in items.libraries
            for module in library.modules if module and module[-1] == first]


def relative_item_path_start(segments: list[str], path: Path | None,
                             items: RustItems) -> list[tuple[RustLibrary, tuple[str, ...], int]]:
    """`crate::…`, `self::…`, `super::…` in a file of a library's src/ (elsewhere: not checked)."""
    found = module_of(path, items)
    if found is None:
        return []
    library, module = found
    if segments[0] == "crate":
        return [(library, (), 1)]
    i = 1 if segments[0] == "self" else 0
    while i < len(segments) and segments[i] == "super":
        module, i = module[:-1], i + 1
    return [(library, module, i)]


def unresolved(library: RustLibrary, module: tuple[str, ...], rest: list[str], root: Path,
               items: RustItems) -> str | None:
    """What in rest does not resolve from module: each segment a submodule, until one that the
    module's file declares (what follows that, a variant or a method, is not checked)."""
    for segment in rest:
        if module + (segment,) in library.modules:
            module = module + (segment,)
            continue
        file = library.modules[module]
        names = item_names(file, items)
        if names is None or segment in names:
            return None
        return f"no item `{segment}` in {file.relative_to(root).as_posix()}"
    return None


def check_item_path(item_path: str, where: str, number: int, path: Path | None, root: Path,
                    items: RustItems, report: Report) -> None:
    """An item path of one of our library crates must resolve in one of its readings."""
    segments = item_path.split("::")
    starts = item_path_starts(segments, path, root, items)
    if not starts:
        return
    report.item_paths += 1
    misses = []
    for library, module, i in starts:
        miss = unresolved(library, module, segments[i:], root, items)
        if miss is None:
            return
        misses.append(miss)
    report.problem(where, number, f"`{item_path}`: {'; '.join(misses)}")


def rust_paths(text: str, intra_doc_links: bool) -> list[str]:
    """The Rust paths (`a::b::C`) in text's code spans and, in a Rust comment, its intra-doc
    links; never in prose."""
    pieces = [m.group(2) for m in INLINE_CODE.finditer(text)]
    if intra_doc_links:
        links = INTRA_DOC_LINK.finditer(without_code_spans(text))
        pieces += [group for m in links for group in m.groups() if group]
    return [m.group(0) for piece in pieces for m in RUST_PATH.finditer(piece)]


TEMPLATE_PARAMETER = re.compile(r"^  ([A-Za-z0-9]+):\s*$")
TEMPLATE_DEFAULT = re.compile(r"^    Default:\s*(.*?)\s*$")


def template_parameters(text: str) -> dict[str, str | None]:
    """The Parameters of a CloudFormation template in YAML, name -> Default as written (quotes
    dropped; None without one): the block's two-space keys, read line by line (no YAML library)."""
    params: dict[str, str | None] = {}
    name, inside = None, False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            inside, name = line.rstrip() == "Parameters:", None
        elif inside and (m := TEMPLATE_PARAMETER.match(line)):
            name = m.group(1)
            params[name] = None
        elif inside and name and (m := TEMPLATE_DEFAULT.match(line)):
            params[name] = m.group(1).strip("\"'")
    return params


def check_parameters(root: Path, report: Report) -> None:
    """docs/deploy.md's parameter table lists every parameter of template.yaml, with its default."""
    template, deploy = root / "template.yaml", root / "docs/deploy.md"
    if not template.exists() or not deploy.exists():
        return
    params = template_parameters(template.read_text())
    where = "docs/deploy.md"
    lines = deploy.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "### Parameters"), None)
    if start is None:
        report.problem(where, 1, "no `### Parameters` section for template.yaml's parameters")
        return
    rows: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("#"):
            break
        m = re.match(r"^\|\s*`([A-Za-z0-9]+)`\s*\|[^|]*\|([^|]*)\|", line)
        if m:
            rows[m.group(1)] = (number, m.group(2).strip())
        elif rows and not line.startswith("|"):
            break  # the end of the table
    for name, default in params.items():
        report.parameters += 1
        if name not in rows:
            report.problem(where, start + 1, f"parameter `{name}` of template.yaml is missing from the table")
            continue
        number, cell = rows[name]
        want = "–" if default is None else "empty" if default == "" else f"`{default}`"
        if cell != want:
            report.problem(where, number, f"`{name}`: default {cell}, template.yaml says {want}")
    for name, (number, _) in rows.items():
        if name not in params:
            report.problem(where, number, f"`{name}` is not a parameter of template.yaml")


def check(root: Path, files: list[Path], ws: Workspace) -> Report:
    report = Report()
    repo = repo_facts(root, ws)
    docs = {f.resolve(): parse(f.resolve()) for f in files}
    for doc in docs.values():
        report.files += 1
        check_links(doc, docs, root, report)
        check_code(doc, ws, repo, report)
        check_doc_item_paths(doc, repo, report)
    check_comments(repo, report)
    check_parameters(root, report)
    return report


def files_to_check(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# ---------------------------------------------------------------------------------------------
# The self-test: a small repository with one planted problem of each kind


SELF_TEST_README = """\
# Title

See [the guide](docs/guide.md), [its setup](docs/guide.md#set-it-up), [below](#the-two-commands)
and [Tests](docs/guide.md#tests-1).

## The two commands

```sh
cargo run -p app                                # fine
cargo test -p app-tests --test e2e -- module::  # fine
cargo test -p app-tests --test template         # PLANTED: no such test target
cargo run -p nosuch                             # PLANTED: no such package
scripts/run.sh && scripts/missing.sh            # PLANTED: the second does not exist
```

Also `cargo run --bin app` (fine), `cargo run --bin nope` (PLANTED), `target/x` and `tests/out/y`
(generated: not checked), and [the shared notes](../shared/notes.txt) (PLANTED: outside).
"""

SELF_TEST_GUIDE = """\
# Guide

## Set it up

Back to [the README](../README.md#the-two-commands); [a typo](../README.md#the-two-command)
(PLANTED), [a file](../scripts/run.sh), [a missing one](../scripts/gone.sh) (PLANTED).

## Tests

## Tests

```
# a comment, not a heading
cargo test --workspace --test e2e
```

From a crate's src/: `omnilab/auth/fleet.rs`, a crate's `src/lib.rs`, alone `fleet.rs` (fine);
`omnilab/sdk.rs` (PLANTED: moved),
`sdk.rs` (PLANTED: no such file).
Items: `view::Nested`, `bookings::omnilab::Calls` (fine), `omnilab::Settings` (PLANTED: no such item).
"""

# The planted problems, by file: line, and a text the report of it must contain (a tuple of
# texts for a line with more than one).
SELF_TEST_PLANTED = {
    "README.md": {11: "--test template", 12: "-p nosuch", 13: "scripts/missing.sh", 16: "--bin nope",
                  17: "leaves the repository"},
    "docs/guide.md": {5: "#the-two-command", 6: "../scripts/gone.sh", 18: "`omnilab/sdk.rs`: no such file",
                      19: "`sdk.rs`: no file of that name", 20: "`omnilab::Settings`: no item `Settings`"},
    "scripts/tool.rs": {2: "issue number", 3: "scripts/old.rs", 6: "scripts/gone-too.sh"},
    "shared/Cargo.toml": {2: "scripts/build.sh", 4: "`omnilab/sdk.rs`: no such file"},
    "shared/src/lib.rs": {3: "`omnilab/sdk.rs`: no such file", 4: "`sdk.rs`: no file of that name",
                          10: "`view::Pieces`: no item `Pieces` in shared/src/view/mod.rs",
                          11: ("`view::Gone`: no item `Gone`", "`fleet::Gone`: no item `Gone`")},
    "shared/src/omnilab/auth/fleet.rs": {1: "`../sdk.rs`: no such file",
                                         3: "`super::Calls`: no item `Calls` in shared/src/omnilab/auth/mod.rs"},
    "docs/deploy.md": {3: "`Topic` of template.yaml is missing", 8: "`Retention`: default `7`",
                       9: "`Gone` is not a parameter"},
}
SELF_TEST_EXPECTED = [(file, line, needle) for file, lines in SELF_TEST_PLANTED.items()
                      for line, needles in lines.items()
                      for needle in (needles if isinstance(needles, tuple) else (needles,))]


def reports(problem: str, file: str, line: int, needle: str) -> bool:
    """Whether `problem` is the report of the planted problem at `file`:`line`."""
    return problem.startswith(f"{file}:{line}: ") and needle in problem

SELF_TEST_TEMPLATE = """\
Parameters:
  Tenant:
    Type: String
  Retention:
    Type: Number
    Default: 30
  Topic:
    Type: String
    Default: ""
Resources:
  Thing:
    Type: AWS::SNS::Topic
"""

SELF_TEST_DEPLOY = """\
# Deploy

### Parameters

| Parameter | Required | Default | Meaning |
|---|---|---|---|
| `Tenant` | yes | – | fine (`Topic` is missing: PLANTED) |
| `Retention` | no | `7` | PLANTED: not the template's default |
| `Gone` | no | empty | PLANTED: not a parameter |

### Build
"""

SELF_TEST_SOURCE = """\
// Reads scripts/run.sh (fine), see https://example.com/docs/x (a URL: fine).
// Why: issue 12 says so (PLANTED).
let x = 1; // moved from scripts/old.rs (PLANTED: gone)
let url = "https://example.com//scripts/in-a-string.rs"; /* a string is no comment: fine */
/* and a block comment
   names scripts/gone-too.sh (PLANTED) */
"""

SELF_TEST_MANIFEST = """\
[package]
name = "bookings"  # built by scripts/build.sh (PLANTED: a trailing comment's path, gone)
description = "a # in a string, then scripts/not-a-comment.sh: fine"
# The crate's roots (omnilab/auth/fleet.rs, fine: from src/) and SDK (omnilab/sdk.rs, PLANTED: moved)
"""

# The crate `bookings`: its files, some comments in them (a path may start at the root, the
# file's folder, the crate or its src/), and the items they declare.
SELF_TEST_LIB = """\
//! From src/: omnilab/auth/fleet.rs; from the crate: src/lib.rs, Cargo.toml; alone: fleet.rs (fine).
pub mod omnilab;
let x = 1; // the SDK: omnilab/sdk.rs (PLANTED: a trailing comment's stale relative path)
// see sdk.rs (PLANTED: no file of that name)
// lambda_runtime's `runtime.rs`, Node.js, samcli/commands/deploy.py, docs.rs/x/y.rs: theirs (fine)
// reads `< candidate.json`, then removes candidate.json: made at run time (fine)
pub mod view;
/// Fine: [`view::Nested`], [crate::view::Nested], `omnilab::Calls` (a re-export), `fleet::Calls`,
/// `bookings::omnilab::auth::fleet::Calls::new`, `std::io::Error`, `error::Error`, `Route::List`.
/// A writer like [`view::Pieces`] (PLANTED: gone; a comment of view/ names it, no declaration).
/// See [view::Gone] (PLANTED: an intra-doc link's) and `fleet::Gone` (PLANTED); view::Gone in prose is not checked.
"""

SELF_TEST_VIEW = """\
// The struct Pieces we had: gone.
pub(crate) struct Nested<'a>(&'a str);
"""

SELF_TEST_FLEET = """\
// Next to ../mod.rs and mod.rs, from its folder (fine); not next to ../sdk.rs (PLANTED)
pub struct Calls;
// `super::fleet::Calls`, `self::Calls` (fine), `super::Calls` (PLANTED: the auth module has none)
"""

SELF_TEST_SCRIPT = """\
#!/usr/bin/env bash
echo "${#}" "$# scripts/not-a-comment.sh"  # runs scripts/run.sh (fine)
cat <<'END'
not a comment: scripts/heredoc.sh
END
"""

# The self-test repository's other files, by path.
SELF_TEST_OTHER_FILES = {
    "shared/Cargo.toml": SELF_TEST_MANIFEST,
    "shared/src/lib.rs": SELF_TEST_LIB,
    "shared/src/omnilab/mod.rs": "pub mod auth;\npub mod error;\npub use auth::fleet::Calls;\n",
    "shared/src/view/mod.rs": SELF_TEST_VIEW,
    "shared/src/omnilab/error.rs": "pub struct Shape;\n",
    "tests/Cargo.toml": "[package]\nname = \"app-tests\"\n",
    "tests/support/view.rs": "pub struct Harness;\n",
    "tests/e2e/main.rs": "// `view::Harness`: the tests crate's own module view (fine)\n",
    "shared/src/omnilab/auth/mod.rs": "pub mod fleet;\n",
    "shared/src/omnilab/auth/fleet.rs": SELF_TEST_FLEET,
    "scripts/run.sh": SELF_TEST_SCRIPT,
}


def self_test() -> int:
    ws = Workspace(
        packages={
            "app": Package("app", {"bin": {"app"}}),
            "app-tests": Package("app-tests", {"lib": {"app_tests"}, "test": {"e2e"}}),
        },
        default_members=["app"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve() / "repo"
        ws.packages["bookings"] = Package("bookings", {"lib": {"bookings"}}, directory=root / "shared")
        (root / "docs").mkdir(parents=True)
        (root / "scripts").mkdir()
        for path, text in SELF_TEST_OTHER_FILES.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        (root / ".gitignore").write_text("/target\n/tests/out\n")
        (root / "README.md").write_text(SELF_TEST_README)
        (root / "docs/guide.md").write_text(SELF_TEST_GUIDE)
        (root / "scripts/tool.rs").write_text(SELF_TEST_SOURCE)
        (root / "template.yaml").write_text(SELF_TEST_TEMPLATE)
        (root / "docs/deploy.md").write_text(SELF_TEST_DEPLOY)
        report = check(root, files_to_check(root), ws)
    failures = []
    for file, line, needle in SELF_TEST_EXPECTED:
        if not any(reports(p, file, line, needle) for p in report.problems):
            failures.append(f"missed the planted problem at {file}:{line}: ({needle})")
    for p in report.problems:
        if not any(reports(p, *planted) for planted in SELF_TEST_EXPECTED):
            failures.append(f"reported a problem that is not one: {p}")
    if failures:
        print("check-docs self-test FAILED:", *failures, sep="\n  ", file=sys.stderr)
        print("what it reported:", *report.problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"check-docs self-test: caught all {len(SELF_TEST_EXPECTED)} planted problems "
          f"(broken links and anchors, a wrong --test, -p and --bin, a missing script, an issue "
          f"number and stale paths in comments (a trailing one, a block comment's, a Cargo.toml's), "
          f"stale relative paths and bare names of no file in comments and docs' code, stale Rust "
          f"item paths in code spans and intra-doc links, a template "
          f"parameter missing from docs/deploy.md's table, a wrong default and a row of no parameter), "
          f"no false alarm")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--self-test"]:
        return self_test()
    if argv:
        print("usage: scripts/check-docs.py [--self-test]", file=sys.stderr)
        return 2
    files = [f for f in files_to_check(ROOT) if f.exists()]
    report = check(ROOT, files, workspace(ROOT))
    names = ", ".join(f.relative_to(ROOT).as_posix() for f in files)
    print(f"check-docs: {report.files} files ({names}): {report.links} relative links "
          f"({report.anchors} with an anchor), {report.commands} cargo commands, {report.paths} paths in code; "
          f"{report.sources} source files' comments, {report.comment_paths} paths in them; "
          f"{report.file_names} bare file names, {report.item_paths} Rust item paths; "
          f"{report.parameters} template parameters in docs/deploy.md's table")
    def position(problem: str) -> tuple[str, int]:
        file, line, _ = problem.split(":", 2)
        return file, int(line)

    for p in sorted(report.problems, key=position):
        print(p)
    if report.problems:
        print(f"check-docs: {len(report.problems)} problems", file=sys.stderr)
        return 1
    print("check-docs: every link, anchor, cargo package and target, path, file name and Rust item "
          "path resolves; no comment cites an issue number; every template parameter is in the table, "
          "with its default")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
