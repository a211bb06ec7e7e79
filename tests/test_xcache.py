"""The XCache helper (docs chapter 1.7): /store URLs go through the XCache, nothing else changes."""

import dask
import pytest

from coffea_casa.xcache import to_xcache, xcache_host

DOCS_URL = ("root://cmsxrootd.fnal.gov//store/data/Run2018A/DoubleMuon/NANOAOD/02Apr2020-v1/30000/"
            "0555868D-6B32-D249-9ED1-6B9A6AABDAF7.root")
DOCS_XCACHE = ("root://xcache//store/data/Run2018A/DoubleMuon/NANOAOD/02Apr2020-v1/30000/"
               "0555868D-6B32-D249-9ED1-6B9A6AABDAF7.root")


def test_docs_example():
    assert to_xcache(DOCS_URL) == DOCS_XCACHE


@pytest.mark.parametrize("url, expected", [
    ("root://cms-xrd-global.cern.ch//store/mc/RunIISummer20UL18NanoAODv9/DY.root",
     "root://xcache//store/mc/RunIISummer20UL18NanoAODv9/DY.root"),
    ("root://xrootd-cms.infn.it:1094//store/user/x/f.root", "root://xcache//store/user/x/f.root"),
    ("root://user@redirector.example//store/f.root?svcClass=default", "root://xcache//store/f.root?svcClass=default"),
])
def test_any_redirector_is_replaced(url, expected):
    assert to_xcache(url) == expected


@pytest.mark.parametrize("url", [
    DOCS_XCACHE,                                                      # already through the XCache
    "root://eospublic.cern.ch//eos/root-eos/benchmark/Run2012B_SingleMu.root",  # not /store
    "root://cmsxrootd.fnal.gov/store/data/f.root",                    # single slash: a relative path
    "root://cmsxrootd.fnal.gov///store/data/f.root",                  # not exactly //store
    "root://cmsxrootd.fnal.gov//storage/f.root",                      # /storage is not /store
    "root:////store/data/f.root",                                     # no redirector
    "roots://cmsxrootd.fnal.gov//store/data/f.root",                  # another scheme
    "ROOT://cmsxrootd.fnal.gov//store/data/f.root",
    "https://cmsxrootd.fnal.gov//store/data/f.root",
    "file:///store/data/f.root",
    "/store/data/f.root",                                             # local paths
    "data/nano_dimuon.root",
    "",
])
def test_other_urls_do_not_change(url):
    assert to_xcache(url) == url


def test_host_from_config_or_argument():
    assert xcache_host() == "xcache"
    with dask.config.set({"coffea-casa.xcache-host": "xcache.example:1094"}):
        assert xcache_host() == "xcache.example:1094"
        assert to_xcache(DOCS_URL).startswith("root://xcache.example:1094//store/data/Run2018A/")
        # the configured host's own URLs are left alone too
        assert to_xcache(DOCS_XCACHE.replace("xcache", "xcache.example:1094", 1)).startswith(
            "root://xcache.example:1094//store/")
    assert to_xcache(DOCS_URL, host="cache1").startswith("root://cache1//store/data/")
    for bad in ("a/b", " x", "h?q"):
        with pytest.raises(ValueError):
            to_xcache(DOCS_URL, host=bad)


def test_whole_filesets_keep_their_shape():
    other = "root://eospublic.cern.ch//eos/root-eos/benchmark/Run2012B_SingleMu.root"
    fileset = {
        "DoubleMu": [DOCS_URL, "/local/nano.root"],
        "DY": {"files": [DOCS_URL], "treename": "Events", "metadata": {"xs": 1.0}},
        "ByTree": {"files": {DOCS_URL: "Events", other: "Events"}},
        "SingleMu": (other,),
    }
    original = {k: (dict(v) if isinstance(v, dict) else v) for k, v in fileset.items()}
    assert to_xcache(fileset) == {
        "DoubleMu": [DOCS_XCACHE, "/local/nano.root"],
        "DY": {"files": [DOCS_XCACHE], "treename": "Events", "metadata": {"xs": 1.0}},
        "ByTree": {"files": {DOCS_XCACHE: "Events", other: "Events"}},
        "SingleMu": (other,),
    }
    assert fileset == original  # not modified in place
    assert to_xcache([DOCS_URL, other]) == [DOCS_XCACHE, other]
    with pytest.raises(TypeError):
        to_xcache(42)
