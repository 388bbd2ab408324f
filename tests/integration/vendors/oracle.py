# SPDX-License-Identifier: MIT
"""Oracle Linux fixture: templates/OracleLinux/ol<N>-template.json (x86_64)
and ol<N>_aarch64-cloud-template.json (aarch64, kvm and kvm-cloud entries)
with the sha256 inline; OL10 has no aarch64 template, so the newest
aarch64 major is 9. Version and release are strings, as Oracle writes them;
base_url is absolute on the host."""

import json
from pathlib import Path

from vendor_mirror import sha256_file

X86 = {"8": ("10", "b258"), "9": ("6", "b265"), "10": ("1", "b22")}
ARM = {"8": ("10", "b258"), "9": ("6", "b265")}


def build(root: Path, images) -> dict:
    top = root / "yum" / "templates" / "OracleLinux"
    top.mkdir(parents=True, exist_ok=True)
    files = {}
    for arch, table in (("x86_64", X86), ("aarch64", ARM)):
        for major, (update, b) in table.items():
            base = "/templates/OracleLinux/OL%s/u%s/%s" % (major, update, arch)
            d = root / "yum" / base.lstrip("/")
            doc = {"version": major, "release": update, "base_url": base}
            if arch == "x86_64":
                kvm = "OL%sU%s_%s-kvm-%s.qcow2" % (major, update, arch, b)
                p = images.copy("qcow2", d / kvm)
                doc["kvm"] = {"image": kvm, "sha256": sha256_file(p)}
                doc["olvm"] = {"image": "OL%sU%s_%s-olvm-%s.ova" % (major, update, arch, b), "sha256": "cd" * 32}
                files["x86_64/" + major] = kvm
                (top / ("ol%s-template.json" % major)).write_text(json.dumps(doc, indent=2))
            else:
                cloud = "OL%sU%s_%s-kvm-cloud-%s.qcow2" % (major, update, arch, b)
                p = images.copy("qcow2", d / cloud)
                doc["kvm"] = {"image": "OL%sU%s_%s-kvm-%s.qcow2" % (major, update, arch, b), "sha256": "ef" * 32}
                doc["kvm-cloud"] = {"image": cloud, "sha256": sha256_file(p).upper()}
                files["aarch64/" + major] = cloud
                (top / ("ol%s_aarch64-cloud-template.json" % major)).write_text(json.dumps(doc, indent=2))
    # The landing page Oracle generates from the templates: the fallback.
    rows = []
    for tpl in sorted(top.glob("*.json")):
        doc = json.loads(tpl.read_text())
        for key in ("kvm", "kvm-cloud"):
            if key in doc:
                href = "https://yum.oracle.com%s/%s" % (doc["base_url"], doc[key]["image"])
                rows.append('<tr><td>Oracle Linux %s Update %s</td><td><a class="kvm-image" href="%s">%s</a>'
                            '</td><td><tt class="kvm-sha256">%s</tt></td></tr>'
                            % (doc["version"], doc["release"], href, doc[key]["image"], doc[key]["sha256"]))
    (root / "yum" / "oracle-linux-templates.html").write_text(
        "<html><body><table class=\"templates\">\n%s\n</table></body></html>\n" % "\n".join(rows))
    return {"latest": "10", "files": files}
