package reply_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pilotdesk/pilotdesk/pkg/gorgias"
	"github.com/pilotdesk/pilotdesk/pkg/reply"
)

// Real-shaped agent replies, as Gorgias stores them: the bodies carry what the mail client or
// the helpdesk appended (the quoted thread, a signature); the stripped_* fields, when Gorgias
// parsed the message, hold the new text alone, and are null (empty here) otherwise.
const (
	gmailHTML = `<div dir="ltr">Hi Jane,<div><br></div><div>So sorry about the parcel. A replacement left our warehouse this morning.</div><div><br></div><div>Tom</div></div><br>` +
		`<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, 3 Jun 2024 at 10:12, Jane Doe &lt;<a href="mailto:jane@x.com">jane@x.com</a>&gt; wrote:<br></div>` +
		`<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">The parcel arrived crushed.<br>Not happy.</div></blockquote></div>`

	gmailSignedHTML = `<div dir="ltr">Refund done, Jane.<br clear="all"><div><br></div><span class="gmail_signature_prefix">-- </span><br>` +
		`<div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">Tom Baker<br>Shop Support</div></div><br>` +
		`<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jun 3, 2024 at 10:12 AM Jane &lt;jane@x.com&gt; wrote:<br></div>` +
		`<blockquote class="gmail_quote"><div dir="ltr">Where is my refund?</div></blockquote></div>`

	outlookHTML = `<html><head><style>p{margin:0}</style></head><body dir="ltr">` +
		`<div style="font-family:Calibri,Arial,Helvetica,sans-serif">Dear Jane,</div>` +
		`<div style="font-family:Calibri,Arial,Helvetica,sans-serif">We have refunded your order in full.</div>` +
		`<div style="font-family:Calibri,Arial,Helvetica,sans-serif">Kind regards,<br>Tom</div>` +
		`<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">` +
		`<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">` +
		`<b>From:</b> Jane Doe &lt;jane@x.com&gt;<br><b>Sent:</b> Monday, June 3, 2024 10:12 AM<br>` +
		`<b>To:</b> Support &lt;support@shop.example&gt;<br><b>Subject:</b> Re: Your review</font><div>&nbsp;</div></div>` +
		`<div><div dir="ltr">The parcel arrived crushed.</div></div></body></html>`

	outlookHRHTML = `<p>Thanks Jane, the refund is on its way.</p><hr>` +
		`<p><b>De&nbsp;:</b> Jeanne &lt;jeanne@x.fr&gt;<br><b>Envoyé&nbsp;:</b> lundi 3 juin 2024 10:12<br><b>À&nbsp;:</b> Support</p>` +
		`<p>Le colis est arrivé écrasé.</p>`

	thunderbirdHTML = `<html><body><p>Refund done.</p><p>Tom<br></p>` +
		`<div class="moz-cite-prefix">On 03/06/2024 10:12, Jane Doe wrote:<br></div>` +
		`<blockquote type="cite" cite="mid:abc123@x.com"><p>The parcel arrived crushed.</p></blockquote></body></html>`

	appleHTML = `<html><body dir="auto"><div>Sorry Jane, a new parcel is on its way.</div><div><br></div>` +
		`<div><br><blockquote type="cite"><div>On 3 Jun 2024, at 10:12, Jane &lt;jane@x.com&gt; wrote:</div><br class="Apple-interchange-newline">` +
		`<div><div>The parcel arrived crushed.</div></div></blockquote></div></body></html>`

	// body_text of a Gmail reply as the simulator (lab/gorgiassim) and Gorgias write it.
	gmailText = "Thanks Jane!\n\nOn Mon, Jun 3, 2024 at 10:12 AM, Jane Doe <jane@x.com> wrote:\n" +
		"> The parcel arrived crushed.\n>\n> Jane"
)

func TestReplyTextRealShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		msg   gorgias.Message
		limit int // 0: 4096
		want  string
		cut   bool
	}{
		{
			name: "gmail html reply with gmail_quote",
			msg:  gorgias.Message{BodyHTML: gmailHTML},
			want: "Hi Jane,\n\nSo sorry about the parcel. A replacement left our warehouse this morning.\n\nTom",
		},
		{
			name: "gmail html reply with signature and gmail_quote",
			msg:  gorgias.Message{BodyHTML: gmailSignedHTML},
			want: "Refund done, Jane.",
		},
		{
			name: "outlook html reply with appendonsend and divRplyFwdMsg",
			msg:  gorgias.Message{BodyHTML: outlookHTML},
			want: "Dear Jane,\nWe have refunded your order in full.\nKind regards,\nTom",
		},
		{
			name: "outlook html reply with hr and French header block",
			msg:  gorgias.Message{BodyHTML: outlookHRHTML},
			want: "Thanks Jane, the refund is on its way.",
		},
		{
			name: "thunderbird html reply with moz-cite-prefix",
			msg:  gorgias.Message{BodyHTML: thunderbirdHTML},
			want: "Refund done.\nTom",
		},
		{
			name: "apple mail html reply with blockquote type cite",
			msg:  gorgias.Message{BodyHTML: appleHTML},
			want: "Sorry Jane, a new parcel is on its way.",
		},
		{
			name: "html inline blockquote followed by new text is kept",
			msg:  gorgias.Message{BodyHTML: `<blockquote>The parcel arrived crushed.</blockquote><p>We're so sorry, Jane. A new one is on its way.</p>`},
			want: "The parcel arrived crushed.\nWe're so sorry, Jane. A new one is on its way.",
		},
		{
			name: "html entities br and nbsp",
			msg:  gorgias.Message{BodyHTML: `<p>Hi&nbsp;Jane,<br>Fish &amp; chips &lt;3<br/>&quot;See you&quot; &#8211; Tom</p>`},
			want: "Hi Jane,\nFish & chips <3\n\"See you\" – Tom",
		},
		{
			name: "english attribution wrapped over two lines",
			msg: gorgias.Message{BodyText: "Hi Jane,\n\nA new parcel is on its way, tracking follows by email.\n\nTom\n\n" +
				"On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com>\nwrote:\n\n> The parcel arrived crushed.\n> Not happy.\n"},
			want: "Hi Jane,\n\nA new parcel is on its way, tracking follows by email.\n\nTom",
		},
		{
			name: "gmail body_text with stripped_text null",
			msg:  gorgias.Message{BodyText: gmailText, BodyHTML: gmailHTML},
			want: "Thanks Jane!",
		},
		{
			name: "stripped_text present wins over the quoted body",
			msg:  gorgias.Message{StrippedText: "Thanks Jane, see you soon!", BodyText: gmailText, BodyHTML: gmailHTML},
			want: "Thanks Jane, see you soon!",
		},
		{
			name: "stripped_html only",
			msg:  gorgias.Message{StrippedHTML: "<p>Thanks Jane &amp; sorry!</p><p>Tom</p>", BodyText: gmailText},
			want: "Thanks Jane & sorry!\nTom",
		},
		{
			name: "whitespace-only stripped fields count as null",
			msg:  gorgias.Message{StrippedText: " \n", StrippedHTML: "<div><br></div>", StrippedSignature: " ", BodyText: gmailText},
			want: "Thanks Jane!",
		},
		{
			name: "french attribution with nbsp before the colon",
			msg: gorgias.Message{BodyText: "Bonjour Jeanne,\n\nNous vous renvoyons un colis dès aujourd'hui.\n\n" +
				"Le lun. 3 juin 2024 à 10:12, Jeanne Dupont <jeanne@x.fr> a écrit\u00a0:\n> Le colis est arrivé écrasé."},
			want: "Bonjour Jeanne,\n\nNous vous renvoyons un colis dès aujourd'hui.",
		},
		{
			name: "german attribution",
			msg: gorgias.Message{BodyText: "Hallo Jana,\n\nwir schicken Ihnen heute Ersatz.\n\n" +
				"Am Mo., 3. Juni 2024 um 10:12 Uhr schrieb Jana Schmidt <jana@x.de>:\n> Das Paket kam zerdrückt an."},
			want: "Hallo Jana,\n\nwir schicken Ihnen heute Ersatz.",
		},
		{
			name: "spanish attribution",
			msg: gorgias.Message{BodyText: "Hola Juana,\n\nHoy mismo le enviamos otro paquete.\n\n" +
				"El lun, 3 jun 2024 a las 10:12, Juana Pérez (<juana@x.es>) escribió:\n> El paquete llegó aplastado."},
			want: "Hola Juana,\n\nHoy mismo le enviamos otro paquete.",
		},
		{
			name: "dutch attribution",
			msg: gorgias.Message{BodyText: "Hoi Jan,\n\nWe sturen vandaag een nieuw pakket.\n\n" +
				"Op ma 3 jun 2024 om 10:12 schreef Jan de Vries <jan@x.nl>:\n\n> Het pakket kwam beschadigd aan."},
			want: "Hoi Jan,\n\nWe sturen vandaag een nieuw pakket.",
		},
		{
			name: "italian attribution",
			msg: gorgias.Message{BodyText: "Ciao Gianna,\n\nabbiamo spedito un nuovo pacco.\n\n" +
				"Il giorno lun 3 giu 2024 alle ore 10:12 Gianna Rossi <gianna@x.it> ha scritto:\n> Il pacco è arrivato rotto."},
			want: "Ciao Gianna,\n\nabbiamo spedito un nuovo pacco.",
		},
		{
			name: "trailing quoted lines without attribution",
			msg:  gorgias.Message{BodyText: "Thanks Jane, the refund is done.\n\n> I want a refund.\n>\n> Now."},
			want: "Thanks Jane, the refund is done.",
		},
		{
			name: "inline quoted line followed by new text is kept",
			msg:  gorgias.Message{BodyText: "> The parcel arrived crushed.\n\nWe're so sorry, Jane. A replacement is on its way."},
			want: "> The parcel arrived crushed.\n\nWe're so sorry, Jane. A replacement is on its way.",
		},
		{
			name: "inline quote then the quoted thread",
			msg: gorgias.Message{BodyText: "> Not happy.\nSorry Jane! A new one is on its way.\n\n" +
				"On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:\n> The parcel arrived crushed.\n> Not happy."},
			want: "> Not happy.\nSorry Jane! A new one is on its way.",
		},
		{
			name: "outlook plain original message",
			msg: gorgias.Message{BodyText: "Refund issued today.\n\nTom\n\n-----Original Message-----\nFrom: Jane <jane@x.com>\n" +
				"Sent: Monday, June 3, 2024 10:12 AM\nTo: Support\nSubject: Your review\n\nThe parcel arrived crushed."},
			want: "Refund issued today.\n\nTom",
		},
		{
			name: "outlook plain underscores with French headers and CRLF",
			msg: gorgias.Message{BodyText: "Remboursement effectué.\r\n\r\n________________________________\r\n" +
				"De : Jeanne <jeanne@x.fr>\r\nEnvoyé : lundi 3 juin 2024 10:12\r\nÀ : Support\r\nObjet : Votre avis\r\n\r\nLe colis est arrivé écrasé."},
			want: "Remboursement effectué.",
		},
		{
			name: "outlook plain underscores with German headers",
			msg: gorgias.Message{BodyText: "Erstattung ist veranlasst.\n\n________________________________\n" +
				"Von: Jana <jana@x.de>\nGesendet: Montag, 3. Juni 2024 10:12\nAn: Support\nBetreff: Ihre Bewertung\n\nDas Paket kam zerdrückt an."},
			want: "Erstattung ist veranlasst.",
		},
		{
			name: "outlook html turned to text keeps the header block out",
			msg: gorgias.Message{BodyHTML: `<p class="MsoNormal">All sorted, Jane.</p>` +
				`<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Jane &lt;jane@x.com&gt;<br>` +
				`<b>Sent:</b> Monday, June 3, 2024 10:12 AM<br><b>To:</b> Support<br><b>Subject:</b> Your review</p></div><p class="MsoNormal">The parcel arrived crushed.</p>`},
			want: "All sorted, Jane.",
		},
		{
			name: "stripped_signature removed from stripped_text",
			msg: gorgias.Message{StrippedText: "Thanks, we've refunded you.\n\nTom Baker\nShop Support",
				StrippedSignature: "Tom Baker\r\nShop  Support\n", BodyText: "Thanks, we've refunded you.\n\nTom Baker\nShop Support"},
			want: "Thanks, we've refunded you.",
		},
		{
			name: "stripped_signature removed from the body with its delimiter",
			msg: gorgias.Message{BodyText: "Refund done.\n\n-- \nTom Baker | Shop\n\nOn Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:\n> Where is it?",
				StrippedSignature: "Tom Baker | Shop"},
			want: "Refund done.",
		},
		{
			name: "stripped_signature as html",
			msg:  gorgias.Message{StrippedHTML: "<p>Refund done.</p><p>Tom&nbsp;Baker<br>Shop</p>", StrippedSignature: "<p>Tom Baker<br>Shop</p>"},
			want: "Refund done.",
		},
		{
			name: "stripped_signature not at the end is kept",
			msg:  gorgias.Message{StrippedText: "Tom Baker here: your refund is done.", StrippedSignature: "Tom Baker"},
			want: "Tom Baker here: your refund is done.",
		},
		{
			name: "stripped_signature that is the whole text is kept",
			msg:  gorgias.Message{StrippedText: "Thanks, Tom", StrippedSignature: "Thanks, Tom"},
			want: "Thanks, Tom",
		},
		{
			name: "rfc 3676 signature in the plain body",
			msg:  gorgias.Message{BodyText: "Refund done, see you soon.\n\n-- \nTom Baker\nShop Support\nhttps://shop.example"},
			want: "Refund done, see you soon.",
		},
		{
			name: "a dash divider with long text below is not a signature",
			msg:  gorgias.Message{BodyText: "Part one.\n--\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11"},
			want: "Part one.\n--\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11",
		},
		{
			name: "wrote: mid-sentence is not cut",
			msg: gorgias.Message{BodyText: "Hi Jane, you wrote: the box was crushed. We're sorry.\n" +
				"On 5 June 2024 we sent a new one, as our courier wrote: it arrives Friday."},
			want: "Hi Jane, you wrote: the box was crushed. We're sorry.\nOn 5 June 2024 we sent a new one, as our courier wrote: it arrives Friday.",
		},
		{
			name: "undated On … wrote: line of the agent's own is not cut",
			msg:  gorgias.Message{BodyText: "Hi Jane,\nOn Monday our courier wrote:\nthe parcel was handed over intact.\nWe'll refund you anyway."},
			want: "Hi Jane,\nOn Monday our courier wrote:\nthe parcel was handed over intact.\nWe'll refund you anyway.",
		},
		{
			name: "attribution on the first line: bottom-posted reply",
			msg: gorgias.Message{BodyText: "On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:\n> The parcel arrived crushed.\n\n" +
				"Sorry Jane, a new one is on its way."},
			want: "Sorry Jane, a new one is on its way.",
		},
		{
			name: "header-like first line is kept, not cut to empty",
			msg:  gorgias.Message{BodyText: "From: the Shop team\nTo: all our reviewers\n\nThank you for the kind words!\n> great shop"},
			want: "From: the Shop team\nTo: all our reviewers\n\nThank you for the kind words!",
		},
		{
			name: "a quote with nothing new is empty",
			msg:  gorgias.Message{BodyText: "On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:\n> The parcel arrived crushed."},
			want: "",
		},
		{
			name: "quote blocks only in html fall back to the whole text",
			msg:  gorgias.Message{BodyHTML: `<blockquote type="cite">We hear you and are on it.</blockquote>`},
			want: "We hear you and are on it.",
		},
		{
			name:  "cut after the quote is stripped",
			msg:   gorgias.Message{BodyText: "Thanks for your patience, Jane.\n\n" + "On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com> wrote:\n> " + strings.Repeat("x", 100)},
			limit: 20,
			want:  "Thanks for your p…",
			cut:   true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			limit := tc.limit
			if limit == 0 {
				limit = 4096
			}
			got, cut := reply.ReplyText(tc.msg, limit)
			if got != tc.want || cut != tc.cut {
				t.Errorf("ReplyText = %q, %v\nwant         %q, %v", got, cut, tc.want, tc.cut)
			}
		})
	}
}

// FuzzReplyText: whatever the fields, no panic, valid UTF-8 within the limit, and nothing
// longer than the field it came from (HTML decoding only shrinks; the slack covers entities
// like &acE; that decode to as many bytes as they take).
func FuzzReplyText(f *testing.F) {
	f.Add(gmailText, gmailHTML, "", "", "", 4096)
	f.Add("", outlookHTML, "", "", "", 50)
	f.Add("", thunderbirdHTML+appleHTML, "", "", "Tom", 4096)
	f.Add("Refund.\n-- \nTom", "", "", "<p>x</p>", "<b>Tom</b>", 10)
	f.Add("On Mon, 3 Jun 2024 at 10:12, Jane <jane@x.com>\nwrote:\n> x\n\ny", "", " ", "", "", 3)
	f.Add("> a\n\n________________________________\nDe : x\nEnvoyé : y", "<blockquote><div></blockquote></div>", "", "", "", 0)
	f.Add("\xff\xfe", "<div class=gmail_quote><hr>From: a<br>Sent: b", "é\r\n", "&acE;", "--", 1)
	f.Fuzz(func(t *testing.T, bodyText, bodyHTML, strippedText, strippedHTML, sig string, limit int) {
		m := gorgias.Message{BodyText: bodyText, BodyHTML: bodyHTML, StrippedText: strippedText, StrippedHTML: strippedHTML, StrippedSignature: sig}
		limit %= 5000
		got, cut := reply.ReplyText(m, limit)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if limit > 0 && len(got) > limit {
			t.Fatalf("%d bytes, limit %d: %q", len(got), limit, got)
		}
		if cut && limit <= 0 {
			t.Fatalf("cut without a limit")
		}
		const slack = 8
		longest := max(len(bodyText), len(bodyHTML), len(strippedText), len(strippedHTML))
		if len(got) > longest+slack {
			t.Fatalf("%d bytes out of fields of at most %d: %q", len(got), longest, got)
		}
	})
}
