package replyguard

import (
	"slices"
	"strings"
	"testing"
)

// Shorthands for the table.
const (
	E = Email
	P = Phone
	A = Address
	R = Reference
	C = ChangeRequest
	I = Incentive
)

// TestCheck runs real-shaped replies through the guard; each row lists exactly the kinds it
// must find, in the order they appear in the text.
func TestCheck(t *testing.T) {
	t.Parallel()
	refs := []string{"ORD-55821", "64f1c2e8a9b3d4e5f6a7b8c9"}
	tests := []struct {
		name string
		lang string
		text string
		want []Kind
	}{
		// Signatures and contact details.
		{"en signature with UK phone", "en", "Sorry for the delay, it's on its way.\n\nKind regards, Anna | Customer Care | +44 20 7946 0958", []Kind{P}},
		{"en signature without phone", "en", "Sorry for the delay, it's on its way.\n\nKind regards,\nAnna | Customer Care | Homeware Ltd", nil},
		{"en international with trunk in parens", "en", "Call us on +44 (0)20 7946 0958.", []Kind{P}},
		{"en 0044 prefix", "en", "From abroad dial 0044 20 7946 0958.", []Kind{P}},
		{"en national UK", "en", "Our direct line is 020 7946 0958.", []Kind{P}},
		{"en US parenthesised", "en", "Give Mike a ring on (555) 123-4567 any weekday.", []Kind{P}},
		{"en US dashed", "en", "You can reach the store at 555-123-4567.", []Kind{P}},
		{"en freephone", "en", "Our freephone 0800 123 456 is open until 8pm.", []Kind{P}},
		{"fr mobile spaced", "fr", "Appelez-moi au 06 12 34 56 78.", []Kind{P}},
		{"fr mobile dotted", "fr", "Mon numéro : 06.12.34.56.78", []Kind{P}},
		{"fr international", "fr", "Service client : +33 6 12 34 56 78", []Kind{P}},
		{"nl mobile ungrouped", "nl", "Bel me gerust op 0612345678.", []Kind{P}},
		{"de slash", "de", "Rufen Sie uns an: 030/1234567", []Kind{P}},
		{"es international", "es", "Llámenos al +34 912 345 678.", []Kind{P}},
		{"email plain in signature", "en", "Best,\nTom\ntom.baker@homeware-shop.co.uk", []Kind{E}},
		{"generic support address is still an email", "en", "Please write to support@shop.com with your photos.", []Kind{E}},
		{"email bracketed", "en", "Mail me: tom [at] shop [dot] com", []Kind{E}},
		{"email parenthesised at", "de", "Schreiben Sie an info(at)beispiel.de.", []Kind{E}},
		{"email spoken", "en", "it's tom at shop dot co dot uk", []Kind{E}},
		{"email and phone in one signature", "fr", "Julie\nService client\njulie@maison.fr | 01 23 45 67 89", []Kind{E, P}},
		{"website is not an email", "en", "Please contact us via our website www.shop.com/contact.", nil},

		// Addresses.
		{"fr address", "fr", "Renvoyez le colis au 12 Rue de la Paix, 75002 Paris.", []Kind{A}},
		{"de address", "de", "Bitte an Hauptstraße 5, 10115 Berlin schicken.", []Kind{A}},
		{"uk address", "en", "Our returns centre: 221B Baker Street, London NW1 6XE.", []Kind{A}},
		{"es address", "es", "Puede pasar por Calle Mayor 3, 28013 Madrid.", []Kind{A}},
		{"nl address", "nl", "Ons adres is Kalverstraat 12, 1012 NX Amsterdam.", []Kind{A}},
		{"us address", "en", "Ship it to 1600 Amphitheatre Pkwy, Mountain View, CA 94043.", []Kind{A}},
		{"ch address", "de", "Zurück an Bahnhofstrasse 1, 8001 Zürich.", []Kind{A}},
		{"address over two lines", "nl", "Retouradres:\nKalverstraat 12\n1012 NX Amsterdam", []Kind{A}},
		{"street alone", "en", "Visit our shop on Baker Street, we'd love to see you.", nil},
		{"postal code alone", "fr", "Nous livrons désormais le 75002 en 24 h.", nil},
		{"on its way is no street", "en", "Order 1234 is on its way, tracking 56789 will update tonight.", nil},

		// References.
		{"reference quoted", "en", "Hi Sam, we've looked into order ORD-55821 and refunded it.", []Kind{R}},
		{"reference case-insensitive", "en", "Your order ord-55821 left today.", []Kind{R}},
		{"review id", "en", "Review 64f1c2e8a9b3d4e5f6a7b8c9 has been escalated.", []Kind{R}},
		{"reference inside a longer id is not it", "en", "Batch XORD-558210 has been recalled.", nil},
		{"generic order number", "en", "Your order #12345 was dispatched on 12/05/2024.", nil},
		{"long generic order number", "de", "Ihre Bestellnummer 100234567 ist unterwegs.", nil},

		// Numbers that are not phone numbers.
		{"dates", "en", "We shipped on 12/05/2024 and again on 2024-05-12 at 14:30.", nil},
		{"prices", "fr", "Le prix est passé de 1.234,56 € à €49.99, soit 20 % de moins.", nil},
		{"opening hours", "nl", "We zijn open van 9:00-17:00 en op zaterdag van 10.00-14.00.", nil},
		{"business days and quantities", "en", "Please allow 3-5 business days; your 2 x 12 bottles ship together.", nil},
		{"versions and years", "de", "Version 10.2.15 von 2023 behebt das, die Kollektion 2024/2025 folgt.", nil},
		{"big amounts", "es", "Hemos enviado 1.250.000 paquetes en 2023.", nil},

		// Change requests.
		{"en update your review", "en", "Now that the parcel has arrived, could you update your review?", []Kind{C}},
		{"en would you consider", "en", "Would you consider updating your 1-star rating?", []Kind{C}},
		{"en take it down", "en", "We'd be grateful if you took down your review. Could you take this review down?", []Kind{C, C}},
		{"en raise rating", "en", "Maybe you could raise your rating a little?", []Kind{C}},
		{"en give us stars", "en", "If you're happy, give us 5 stars!", []Kind{C}},
		{"en cue and the review", "en", "Please remove the negative review, we have fixed it.", []Kind{C}},
		{"fr modifier votre avis", "fr", "Pourriez-vous modifier votre avis maintenant ?", []Kind{C}},
		{"fr revoir votre note", "fr", "Nous espérons que vous pourrez revoir votre note.", []Kind{C}},
		{"fr mettre à jour", "fr", "N'hésitez pas à mettre à jour votre commentaire.", []Kind{C}},
		{"de verb last", "de", "Wir würden uns freuen, wenn Sie Ihre Bewertung zu ändern bereit wären.", []Kind{C}},
		{"de anpassen", "de", "Vielleicht möchten Sie Ihre Bewertung noch einmal anpassen?", []Kind{C}},
		{"de imperative", "de", "Bitte löschen Sie Ihre Bewertung.", []Kind{C}},
		{"de sterne erhöhen", "de", "Könnten Sie die Sterne erhöhen?", []Kind{C}},
		{"es modificar su reseña", "es", "¿Podría modificar su reseña?", []Kind{C}},
		{"es tu valoración", "es", "Si quieres, puedes cambiar tu valoración cuando quieras.", []Kind{C}},
		{"nl verb last", "nl", "Zou u uw review aan willen passen? Wilt u overwegen uw review aan te passen?", []Kind{C}},
		{"nl verwijderen", "nl", "Kunt u uw beoordeling verwijderen?", []Kind{C}},
		{"ascii umlaut", "de", "Koennten Sie Ihre Bewertung aendern?", []Kind{C}},
		{"uppercase and accents", "fr", "MERCI DE MODIFIER VOTRE AVIS", []Kind{C}},
		{"nl hint still finds english", "nl", "Could you please update your review?", []Kind{C}},

		// Ordinary use of the same words.
		{"en thanks for review", "en", "Thank you for your review. We have read your review carefully.", nil},
		{"en changed partner", "en", "We changed our delivery partner and will update you by email.", nil},
		{"en feedback helps", "en", "Your feedback helps us improve.", nil},
		{"en thanks for updating", "en", "Thank you for updating your review, it means a lot to the team.", nil},
		{"en cannot delete", "en", "We cannot delete or edit your review, only Trustpilot can.", nil},
		{"fr merci", "fr", "Merci pour votre avis, il nous aide à progresser.", nil},
		{"de danke", "de", "Danke für Ihre Bewertung! Wir haben Ihre Bewertung gelesen und werden den Versand anpassen.", nil},
		{"es gracias", "es", "Gracias por su reseña. Esperamos poder cambiar su opinión sobre nosotros.", nil},
		{"nl bedankt", "nl", "Bedankt voor uw review. Op basis van uw review gaan we onze verpakking aanpassen.", nil},

		// Incentives.
		{"en refund if you remove", "en", "We will refund your order if you remove your review.", []Kind{I, C}},
		{"en voucher next sentence", "en", "Could you update your review? We'll send you a £10 voucher.", []Kind{C, I, I}},
		{"en in exchange for", "en", "We can offer a discount in exchange for a better rating.", []Kind{I}},
		{"en apology with refund", "en", "We're so sorry. We have refunded your order in full.", nil},
		{"en feel free is not an offer", "en", "Feel free to update your review whenever you like.", []Kind{C}},
		{"fr bon d'achat", "fr", "Si vous supprimez votre avis, nous vous offrons un bon d'achat.", []Kind{C, I}},
		{"fr en échange", "fr", "En échange de votre avis modifié, un geste commercial vous attend.", []Kind{I}},
		{"de gutschein", "de", "Wenn Sie Ihre Bewertung löschen, erhalten Sie einen Gutschein.", []Kind{C, I}},
		{"de im gegenzug", "de", "Bitte ändern Sie Ihre Bewertung, im Gegenzug erhalten Sie Rabatt.", []Kind{C, I, I}},
		{"es cupón", "es", "Si elimina su reseña le enviamos un cupón.", []Kind{C, I}},
		{"es a cambio de", "es", "Le damos un reembolso a cambio de su reseña actualizada.", []Kind{I}},
		{"nl tegoedbon", "nl", "Als u uw review verwijdert, krijgt u een tegoedbon.", []Kind{C, I}},
		{"nl in ruil voor", "nl", "Wij geven korting in ruil voor uw beoordeling.", []Kind{I}},
		{"refund far from the request", "en", "We refunded you last week.\n\nOur shop is open every day.\n\nCould you update your review?", []Kind{C}},

		// Everything at once.
		{"signature, reference and request", "en",
			"Hi Sam,\n\nOrder ORD-55821 is refunded. Would you consider changing your rating?\n\nAnna | Care | +44 20 7946 0958 | anna@shop.com",
			[]Kind{R, I, C, P, E}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Check(tt.text, Options{Language: tt.lang, References: refs})
			var kinds []Kind
			for _, f := range got {
				kinds = append(kinds, f.Kind)
				if !strings.Contains(tt.text, f.Match) {
					t.Errorf("Match %q is not in the text", f.Match)
				}
			}
			if !slices.Equal(kinds, tt.want) {
				t.Errorf("Check(%q)\n got %v: %s\nwant %v", tt.text, kinds, Summary(got), tt.want)
			}
		})
	}
}
