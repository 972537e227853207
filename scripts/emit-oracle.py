"""Independent parsers for the injection tests and the emitter fuzz campaign (scripts/fuzz-emitters.mjs):
Python's own ast/tokenize for generated Python, html.parser for report.html and expat (ElementTree)
for the standalone SVGs. Reads one JSON request per line on stdin, writes one JSON answer per line:

  {"op": "pystring", "lit": L, "value": S}   L parses as one Python str literal equal to S
  {"op": "pycomment", "text": C}             "# C" is exactly one comment on line 1 and declares no encoding
  {"op": "pyfile", "code": T}                the module's shape: a hash of ast.dump with every str
                                             constant replaced by a placeholder, the str constants in
                                             order, the comments in order, the source encoding
  {"op": "html", "text": T}                  the element/attribute-name shape (hash), text nodes,
                                             attribute values, comments, declarations
  {"op": "xml", "text": T}                   the same for an XML document (expat: well-formedness)

Answers: {"ok": true, ...} or {"ok": false, "error": "..."}. Standard library only.
"""
import ast
import hashlib
import html.parser
import io
import json
import sys
import tokenize
import xml.etree.ElementTree as ET


def digest(x):
    return hashlib.sha256(json.dumps(x).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def comments(src):
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            out.append(tok.string)
    return out


def encoding_of(src):
    return tokenize.detect_encoding(io.BytesIO(src.encode("utf-8", "surrogatepass")).readline)[0]


def pystring(req):
    tree = ast.parse(req["lit"], mode="eval")
    node = tree.body
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return {"ok": False, "error": "not a single str literal: " + ast.dump(node)[:200]}
    if node.value != req["value"]:
        return {"ok": False, "error": "value differs: %r" % node.value[:200]}
    return {"ok": True}


def pycomment(req):
    src = "# " + req["text"] + "\nx = 1\n"
    if "\0" in src:
        return {"ok": False, "error": "NUL in the source"}
    tree = ast.parse(src)
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return {"ok": False, "error": "the comment became code: " + ast.dump(tree)[:300]}
    cs = comments(src)
    if cs != ["# " + req["text"]]:
        return {"ok": False, "error": "comments: %r" % cs[:3]}
    enc = encoding_of(src)
    if enc != "utf-8":
        return {"ok": False, "error": "declares the encoding " + enc}
    return {"ok": True}


class Strip(ast.NodeTransformer):
    def __init__(self):
        self.strings = []

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.strings.append(node.value)
            return ast.copy_location(ast.Constant(value="STR"), node)
        return node


def pyfile(req):
    src = req["code"]
    if "\0" in src:
        return {"ok": False, "error": "NUL in the source"}
    tree = ast.parse(src)
    s = Strip()
    tree = s.visit(tree)
    return {"ok": True, "shape": digest(ast.dump(tree)), "statements": len(tree.body), "strings": s.strings, "comments": comments(src), "encoding": encoding_of(src)}


class Html(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shape, self.texts, self.attrs, self.comments, self.decls, self.tags = [], [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.shape.append(["<", tag, [k for k, _ in attrs]])
        self.tags.append(tag)
        self.attrs.extend(v for _, v in attrs if v is not None)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.shape.append([">", tag])

    def handle_endtag(self, tag):
        self.shape.append([">", tag])

    def handle_data(self, data):
        self.texts.append(data)

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_decl(self, decl):
        self.decls.append(decl)

    def handle_pi(self, data):
        self.decls.append("?" + data)

    def unknown_decl(self, data):
        self.decls.append("!" + data)


def htmldoc(req):
    p = Html()
    p.feed(req["text"])
    p.close()
    return {"ok": True, "shape": digest(p.shape), "tags": sorted(set(p.tags)), "texts": p.texts, "attrs": p.attrs, "comments": p.comments, "decls": p.decls}


def xmldoc(req):
    root = ET.fromstring(req["text"].encode("utf-8", "surrogatepass"))  # bytes: an <?xml encoding?> declaration is allowed
    shape, texts, attrs, tags = [], [], [], []

    def walk(e):
        tag = e.tag.split("}")[-1]
        tags.append(tag)
        shape.append(["<", tag, sorted(e.attrib.keys())])
        attrs.extend(e.attrib[k] for k in sorted(e.attrib.keys()))
        if e.text:
            texts.append(e.text)
        for c in e:
            walk(c)
            if c.tail and c.tail.strip():
                texts.append(c.tail)
        shape.append([">", tag])

    walk(root)
    return {"ok": True, "shape": digest(shape), "tags": sorted(set(tags)), "texts": texts, "attrs": attrs}


OPS = {"pystring": pystring, "pycomment": pycomment, "pyfile": pyfile, "html": htmldoc, "xml": xmldoc}

for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        ans = OPS[req["op"]](req)
    except Exception as e:  # a parse error is an answer, not a crash of the oracle
        ans = {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e)[:300])}
    sys.stdout.write(json.dumps(ans) + "\n")
    sys.stdout.flush()
