"""``watcher rules derive``: propose a draft rule file from a seed corpus.

Two things are proposed:

* **entities**: capitalised names (one to five words, with connectors such as
  "al-", "Abu", "of") that the seeds use, grouped with their spelling
  variants ("Murhaf Abu Qasra" / "Murhef Abu Kasra": same number of words,
  each word within a small edit distance once normalised), with a guessed
  kind (person, organisation, place, agreement, other);
* **distinguishing terms**: words and two-word phrases much more frequent in
  the seeds than in a background corpus of general news, ranked by the
  log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi and
  Quinn, 2008), keeping only those found in at least two seeds.

The draft is checked before it is written: the header says how many seed
and background documents it matches.

One module per part: ``corpus`` reads the seeds and the background,
``entities`` and ``terms`` make the two kinds of proposal (with the word lists
in ``words``), ``draft`` renders and checks the rule file.
"""

from watcher.match.derivation.corpus import read_background, read_seeds
from watcher.match.derivation.draft import Draft, derive, render
from watcher.match.derivation.entities import ProposedEntity, name_candidates, propose_entities
from watcher.match.derivation.terms import ProposedTerm, propose_terms

__all__ = [
    "Draft",
    "ProposedEntity",
    "ProposedTerm",
    "derive",
    "name_candidates",
    "propose_entities",
    "propose_terms",
    "read_background",
    "read_seeds",
    "render",
]
