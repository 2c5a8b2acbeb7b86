"""Dates of a life read from the parenthesis after a name, as real pages write it."""
from __future__ import annotations

import pytest

from reason.text import lifespan


@pytest.mark.parametrize("text, expected", [
    ("Theodor Kotsch( January 6, 1818 – November 27, 1884) was a German landscape painter.",
     {"born": "January 6, 1818", "died": "November 27, 1884"}),
    # a parenthesis inside it, and places after the dates
    ("Jean- Baptiste Chardon( April 27, 1672( some sources say April 27, 1671) in Bordeaux, France – April 11, 1743 "
     "in Quebec City) was a French Jesuit.", {"born": "April 27, 1672", "died": "April 11, 1743"}),
    ("Jean-Baptiste Chardon (6 September 1839 in Chalon-sur-Saône – 1 August 1900 in Saint-Laurent-du-Maroni) was",
     {"born": "6 September 1839", "died": "1 August 1900"}),
    # the first parenthesis holds no date: the next one is the lifespan
    ("Margaret Maria Verney (née Hay-Williams or Williams-Hay) (3 December 1844 – 7 October 1930), was an educationist.",
     {"born": "3 December 1844", "died": "7 October 1930"}),
    ("Margaret of Geneva (1180?-1252), countess of Savoy", {"born": "1180", "died": "1252"}),
    ("Bob Dole (c. 1583 – 1640) was a poet.", {"born": "1583", "died": "1640"}),
    ("Eric Khoo Kim Hai( born 27 March 1965) is a Singaporean director.", {"born": "27 March 1965"}),
    ("Margaret of L' Aigle( died 1141) was a Queen consort of Navarre.", {"died": "1141"}),
    ("Ann Lee (1950–) is a writer.", {"born": "1950"}),
    # a year in passing, or a parenthesis far into the sentence, is not a lifespan
    ("The film (1930) was released in 1931.", {}),
    ("The city was founded by settlers from the east who crossed the great river of the plains (1790 – 1830).", {}),
    ("El Cantar de mi ciudad( English language: The Singer of My City) is a 1930 Argentine film.", {}),
])
def test_lifespan(text, expected):
    found = lifespan(text)
    assert {k: d.text for k, d in found.items()} == expected
    assert all(text[d.start:d.end] == d.text for d in found.values())
