"""The documentation stays connected to the repository.

Checked pages: README.md, docs/en/*.md and the family READMEs next to the
metafiles (configs/<family>/README.md). Every relative link must reach an
existing file, and a heading where the link names one; every repository
path a page names (configs/, tools/, tests/, ...) must exist; the family
READMEs and the README's model zoo must carry the metafiles' numbers; the
BibTeX entries must match CITATION.cff.
"""
import glob
import os.path as osp
import re

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
FAMILIES = ('crossformer', 'crossformerpp', 'crossvit')
FAMILY_READMES = [f'configs/{fam}/README.md' for fam in FAMILIES]
PAGES = (['README.md']
         + sorted(osp.relpath(p, REPO)
                  for p in glob.glob(osp.join(REPO, 'docs', 'en', '*.md')))
         + FAMILY_READMES)

LINK = re.compile(r'!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)')
SCHEME = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*:')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*#*\s*$')
# a repository path in prose or code: starts at a top-level folder, ends in
# a word character (or a folder's slash); a path cut short by a glob or a
# placeholder (`official_fixture_*.pth`, `dist_*.sh`) is not matched
REPO_PATH = re.compile(
    r'(?<![\w/.-])((?:configs|docs|mmcrossformer|requirements|scripts|'
    r'tests|tools)/[\w./-]*\w/?)(?![\w/*<>{}-]|\.\w)')


def _read(rel):
    with open(osp.join(REPO, rel), encoding='utf-8') as f:
        return f.read()


def _prose_lines(text):
    """Lines outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(('```', '~~~')):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped
    (word characters, hyphens and spaces kept), spaces to hyphens."""
    text = re.sub(r'`|\*\*|__', '', heading.strip().lower())
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def _anchors(rel):
    seen, anchors = {}, set()
    for line in _prose_lines(_read(rel)):
        match = HEADING.match(line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def _links(rel):
    for line in _prose_lines(_read(rel)):
        # inline code may show link syntax without being a link
        line = re.sub(r'`[^`]*`', '', line)
        yield from LINK.findall(line)


def _metafile(fam):
    with open(osp.join(REPO, 'configs', fam, 'metafile.yml')) as f:
        return yaml.safe_load(f)['Models']


def test_pages_exist():
    for rel in ['README.md', 'docs/en/README.md', *FAMILY_READMES]:
        assert osp.isfile(osp.join(REPO, rel)), rel
    # every page of docs/en is reachable from its index
    index = {osp.normpath(osp.join('docs/en', target.split('#')[0]))
             for target in _links('docs/en/README.md')}
    for rel in PAGES:
        if rel.startswith('docs/en/') and rel != 'docs/en/README.md':
            assert rel in index, f'{rel} is not linked from docs/en/README.md'


@pytest.mark.parametrize('page', PAGES)
def test_relative_links_resolve(page):
    """Each relative link points to an existing file inside the repository;
    a link with an anchor to a heading of that Markdown file."""
    broken = []
    for target in _links(page):
        if SCHEME.match(target):
            continue
        path, _, anchor = target.partition('#')
        dest = (osp.join(REPO, page) if not path else osp.normpath(
            osp.join(REPO, osp.dirname(page), path)))
        if not dest.startswith(REPO + osp.sep):
            broken.append(f'{target}: outside the repository')
        elif not osp.exists(dest):
            broken.append(f'{target}: no such file')
        elif anchor:
            if not dest.endswith('.md'):
                broken.append(f'{target}: anchor into a non-Markdown file')
            elif anchor not in _anchors(osp.relpath(dest, REPO)):
                broken.append(f'{target}: no heading #{anchor}')
    assert not broken, f'{page}: ' + '; '.join(broken)


@pytest.mark.parametrize('page', PAGES)
def test_named_repository_paths_exist(page):
    """Paths the page names, in prose and in commands (configs, tools,
    tests, scripts, package files), exist."""
    missing = sorted({path for path in REPO_PATH.findall(_read(page))
                      if not osp.exists(osp.join(REPO, path))})
    assert not missing, f'{page} names missing paths: {missing}'


def _row_cells(line):
    return [cell.strip().rstrip('*') for cell in line.strip('|').split('|')]


@pytest.mark.parametrize('fam', FAMILIES)
def test_family_readme_lists_every_metafile_model(fam):
    """Every model of configs/<fam>/metafile.yml has a row in
    configs/<fam>/README.md that links its config and shows its parameter
    counts, FLOPs (measured and published) and metrics as the metafile
    gives them."""
    readme = _read(f'configs/{fam}/README.md').splitlines()
    for model in _metafile(fam):
        link = '](../{})'.format(osp.basename(model['Config']))
        rows = [ln for ln in readme if ln.startswith('|') and link in ln]
        assert len(rows) == 1, (model['Name'], f'{len(rows)} rows')
        cells = _row_cells(rows[0])
        meta = model.get('Metadata') or {}
        expected = []
        if 'Parameters' in meta:
            expected.append(f"{meta['Parameters'] / 1e6:.2f}")
        if 'Parameters (paper)' in meta:
            expected.append(f"{meta['Parameters (paper)'] / 1e6:.1f}")
        if 'FLOPs' in meta:
            expected.append(f"{meta['FLOPs'] / 1e9:.1f}")
        if 'FLOPs (paper)' in meta:
            expected.append(f"{meta['FLOPs (paper)'] / 1e9:.1f}")
        for result in model.get('Results') or []:
            expected += [f'{v:.1f}' for v in result['Metrics'].values()]
        for value in expected:
            assert value in cells, (model['Name'], value, rows[0])


def test_readme_model_zoo_matches_metafiles():
    """The README's model zoo links every model with published results and
    quotes its metrics in the metafile's order."""
    readme = _read('README.md')
    for fam in FAMILIES:
        for model in _metafile(fam):
            if not model.get('Results'):
                continue
            link = re.escape(f"]({model['Config']})")
            match = re.search(link + r'\s*([\d.]+(?:\s*/\s*[\d.]+)*)',
                              readme)
            assert match, f"{model['Name']} is not in the README's model zoo"
            quoted = re.findall(r'\d+\.\d', match.group(1))
            expected = [f'{v:.1f}' for result in model['Results']
                        for v in result['Metrics'].values()]
            assert quoted == expected, model['Name']


def _bibtex(text):
    """(title, year) of every BibTeX entry in ```bibtex blocks."""
    entries = set()
    for block in re.findall(r'```bibtex\n(.*?)```', text, re.S):
        for entry in re.split(r'\n(?=@)', block.strip()):
            fields = dict(re.findall(r'(\w+)\s*=\s*\{(.*)\},?\s*$', entry,
                                     re.M))
            entries.add((fields.get('title'), fields.get('year')))
    return entries


def test_bibtex_matches_citation_cff():
    with open(osp.join(REPO, 'CITATION.cff')) as f:
        cff = yaml.safe_load(f)
    papers = {(ref['title'], str(ref['year'])) for ref in cff['references']}
    assert _bibtex(_read('README.md')) == papers
    for rel in FAMILY_READMES:
        entries = _bibtex(_read(rel))
        assert entries and entries <= papers, rel
