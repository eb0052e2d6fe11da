//! The segnatura's own XML tree, written straight in Exclusive XML Canonicalization form
//! (W3C exc-c14n 1.0), with the escaping C14N prescribes: what we emit is its own canonical
//! form, so the signature can digest the bytes as written.

use super::NAMESPACE;
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use std::borrow::Cow;

/// The namespaces a segnatura uses. Each prefix is bound to one URI everywhere, so "already
/// declared by an output ancestor" reduces to "this prefix was declared above".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Prot,
    Ds,
    Xades,
}

impl Ns {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Ns::Prot => "prot",
            Ns::Ds => "ds",
            Ns::Xades => "xades",
        }
    }

    pub(crate) fn uri(self) -> &'static str {
        match self {
            Ns::Prot => NAMESPACE,
            Ns::Ds => "http://www.w3.org/2000/09/xmldsig#",
            Ns::Xades => "http://uri.etsi.org/01903/v1.3.2#",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    ns: Option<Ns>,
    name: &'static str,
    value: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// An element whose text and attribute values are already cleaned of what XML 1.0 cannot carry.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    ns: Ns,
    name: &'static str,
    attrs: Vec<Attr>,
    children: Vec<Node>,
}

impl Element {
    pub(crate) fn new(ns: Ns, name: &'static str) -> Self {
        Self {
            ns,
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub(crate) fn prot(name: &'static str) -> Self {
        Self::new(Ns::Prot, name)
    }

    pub(crate) fn attr(mut self, ns: Option<Ns>, name: &'static str, value: &str) -> Self {
        self.attrs.push(Attr {
            ns,
            name,
            value: clean(value),
        });
        self
    }

    pub(crate) fn text(mut self, text: &str) -> Self {
        self.children.push(Node::Text(clean(text)));
        self
    }

    pub(crate) fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    pub(crate) fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    #[cfg(test)]
    pub(crate) fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    /// The exc-c14n octets of this element taken as the apex of its own node-set: what a
    /// verifier computes for a same-document reference to it, and what the whole document is
    /// when this element is the root.
    pub(crate) fn canonical(&self) -> String {
        let mut writer = Writer::new(Vec::new());
        self.write(&mut writer, &mut Vec::new());
        String::from_utf8(writer.into_inner()).expect("the tree holds only UTF-8 strings")
    }

    pub(crate) fn write(&self, writer: &mut Writer<Vec<u8>>, declared: &mut Vec<Ns>) {
        // exc-c14n renders a namespace on an element only if the element or one of its
        // attributes visibly uses the prefix and no output ancestor has rendered it already.
        let mut used = vec![self.ns];
        used.extend(self.attrs.iter().filter_map(|a| a.ns));
        let mut new_decls: Vec<Ns> = Vec::new();
        for ns in used {
            if !declared.contains(&ns) && !new_decls.contains(&ns) {
                new_decls.push(ns);
            }
        }
        new_decls.sort_by_key(|ns| ns.prefix());

        // Attributes sort by namespace URI (none sorts first), then by local name.
        let mut attrs: Vec<&Attr> = self.attrs.iter().collect();
        attrs.sort_by_key(|a| (a.ns.map_or("", Ns::uri), a.name));

        let qname = format!("{}:{}", self.ns.prefix(), self.name);
        let mut start = BytesStart::new(qname.as_str());
        for ns in &new_decls {
            let key = format!("xmlns:{}", ns.prefix());
            start.push_attribute(Attribute {
                key: QName(&key),
                value: Cow::Borrowed(ns.uri()),
            });
        }
        for attr in attrs {
            let key = match attr.ns {
                Some(ns) => format!("{}:{}", ns.prefix(), attr.name),
                None => attr.name.to_owned(),
            };
            start.push_attribute(Attribute {
                key: QName(&key),
                value: escape_attribute(&attr.value),
            });
        }
        emit(writer, Event::Start(start));

        let depth = declared.len();
        declared.extend(new_decls);
        for child in &self.children {
            match child {
                Node::Element(element) => element.write(writer, declared),
                Node::Text(text) => emit(
                    writer,
                    Event::Text(BytesText::from_escaped(escape_text(text))),
                ),
            }
        }
        declared.truncate(depth);

        // Canonical form never uses empty-element tags.
        emit(writer, Event::End(BytesEnd::new(qname.as_str())));
    }
}

fn emit(writer: &mut Writer<Vec<u8>>, event: Event<'_>) {
    writer
        .write_event(event)
        .expect("writing into memory cannot fail");
}

/// Keeps what XML 1.0 can carry and replaces what it cannot with U+FFFD. Line ends become LF,
/// as any parser would make them, so the canonical form of what we emit is what we emit.
pub(crate) fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\t' | '\n' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text escaping exactly as C14N writes it.
fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '\r']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Attribute escaping exactly as C14N writes it; whitespace other than space must be a
/// character reference, or a parser would normalise it to a space and break the digest.
fn escape_attribute(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '<', '"', '\t', '\n', '\r']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
