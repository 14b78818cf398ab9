package replyguard

import (
	"sort"
	"strings"
)

// rule is one phrase shape of one language, matched against the folded text (lowercase, no
// accents: "ändern" is written "ae?ndern" so that "aendern" matches too).
type rule struct {
	lang  string
	re    *pattern
	group int                          // the submatch reported; 0: the whole match
	ok    func(s string, m []int) bool // an extra check on the folded text; nil: none
	need  []string                     // stems one of which a window must contain for the rule to run there; nil: always run
	reach [2]int                       // how far the rule reaches before and after its object word
}

// Verb stems the rules need, to skip windows that cannot match.
var (
	enVerbs = []string{"updat", "chang", "edit", "amend", "revis", "reconsider", "remov", "delet", "tak", "took", "pull", "withdr", "modif", "adjust", "rewr", "retract", "redo", "alter", "correct", "rais", "increas"}
	enRaise = []string{"rais", "increas", "improv", "bump", "boost", "upgrad", "up"}
	frVerbs = []string{"modifi", "mettre", "mettez", "mets", "retir", "supprim", "chang", "revoir", "revoy", "revois", "metti", "reconsider", "corrig", "effac", "editer", "ajust", "actualis", "revis", "remont", "augment", "rehauss", "enlev"}
	deVerbs = []string{"ndern", "ndere", "sche", "anpass", "passe", "aktualis", "schen", "entfern", "zieh", "nehm", "nimm", "arbeit", "korrig", "revid", "denken", "hoh", "hoeh", "bearbeit", "besser", "setz", "heb", "edit"}
	esVerbs = []string{"modific", "cambi", "actualiz", "actualic", "elimin", "borr", "retir", "edit", "quit", "reconsider", "corrig", "corrij", "correg", "modifiq", "sub", "aument"}
	nlVerbs = []string{"pas", "wijzig", "verwijder", "werk", "trek", "verander", "herzie", "verhoog", "verhog", "heroverweg", "haal", "halen"}
)

// compile expands the {NAME} placeholders of a pattern from vars and compiles it.
func compile(vars map[string]string, pattern string) *pattern {
	for k, v := range vars {
		pattern = strings.ReplaceAll(pattern, "{"+k+"}", "(?:"+v+")")
	}
	return lazy(pattern)
}

// Word gaps: up to n words (adjectives, "1-star", "own") between a determiner and its noun.
const (
	gap2 = `(?:[a-z0-9'\-]+\s+){0,2}?`
	gap3 = `(?:[a-z0-9'\-]+\s+){0,3}?`
)

var en = map[string]string{
	"V":    `update|change|edit|amend|revise|reconsider|remove|delete|take\s+down|pull\s+down|withdraw|modify|adjust|rewrite|retract|redo|alter|correct`,
	"VING": `updating|changing|editing|amending|revising|reconsidering|removing|deleting|taking\s+down|pulling\s+down|withdrawing|modifying|adjusting|rewriting|retracting|altering|correcting`,
	"VED":  `updated|changed|edited|amended|revised|reconsidered|removed|deleted|taken\s+down|took\s+down|withdrawn|withdrew|modified|adjusted|rewritten|retracted|altered|corrected|raised|increased`,
	"O":    `reviews?|ratings?|comments?|stars?|scores?|feedback|testimonials?`,
	"OR":   `ratings?|scores?|stars?`,
	"YOUR": `your|ur|yr|you're|youre`,
	"G2":   gap2,
	"G3":   gap3,
}

var fr = map[string]string{
	"V": `modifier|mettre\s+a\s+jour|retirer|supprimer|changer|revoir|reconsiderer|corriger|effacer|editer|ajuster|actualiser|reviser|remonter|augmenter|rehausser|enlever|` +
		`modifiez|mettez\s+a\s+jour|retirez|supprimez|changez|revoyez|reconsiderez|corrigez|effacez|ajustez|actualisez|revisez|remontez|augmentez|enlevez|` +
		`modifie|mets\s+a\s+jour|retire|supprime|change|revois|corrige|efface|` +
		`modifiiez|changiez|retiriez|supprimiez|revoyiez|mettiez\s+a\s+jour|corrigiez|effaciez|reconsideriez|ajustiez|actualisiez|revisiez|remontiez|augmentiez|enleviez`,
	"O":   `avis|notes?|notation|commentaires?|evaluations?|etoiles?|critiques?|appreciations?|temoignages?`,
	"DET": `votre|vos|ton|ta|tes`,
	"G2":  gap2,
}

var de = map[string]string{
	"O":   `[a-z0-9\-]*(?:bewertung(?:en)?|rezension(?:en)?|sterne|kommentar|beurteilung|review|feedback)`,
	"DET": `ihre|deine|die|eure|diese|ihren|deinen|den|diesen|ihr|dein|euer`,
	"INF": `ae?ndern|abae?ndern|anpassen|aktualisieren|loe?schen|entfernen|zurue?ckziehen|zurue?cknehmen|ue?berarbeiten|korrigieren|revidieren|ue?berdenken|erhoe?hen|bearbeiten|nachbessern|hochsetzen|anheben|herausnehmen|editieren|` +
		`zurue?ckzuziehen|zurue?ckzunehmen|anzupassen|abzuae?ndern|nachzubessern|hochzusetzen|anzuheben|herauszunehmen|` +
		`zu\s+(?:ae?ndern|aktualisieren|loe?schen|entfernen|ue?berarbeiten|korrigieren|revidieren|ue?berdenken|erhoe?hen|bearbeiten|editieren)`,
	"IMP": `ae?ndern|passen|aktualisieren|loe?schen|entfernen|ziehen|nehmen|ue?berarbeiten|korrigieren|ue?berdenken|erhoe?hen|bearbeiten|revidieren|ae?ndere|passe|loe?sche|entferne|ziehe|nimm`,
	"G2":  gap2,
}

var es = map[string]string{
	"V": `modificar|cambiar|actualizar|eliminar|borrar|retirar|editar|quitar|reconsiderar|corregir|subir|aumentar|` +
		`modifique|cambie|actualice|elimine|borre|retire|edite|quite|reconsidere|corrija|suba|aumente|` +
		`modifica|cambia|actualiza|elimina|borra|retira|edita|quita|reconsidera|corrige|sube|aumenta|` +
		`modificara|cambiara|actualizara|eliminara|retirara|borrara|reconsiderara|corrigiera|subiera|quitara|editara|aumentara|modificase|cambiase|eliminase|retirase`,
	"O":  `resenas?|opinion|opiniones|valoracion|valoraciones|comentarios?|calificacion|calificaciones|puntuacion|estrellas|evaluacion|review`,
	"G2": gap2,
}

var nl = map[string]string{
	"V": `aanpassen|wijzigen|verwijderen|bijwerken|intrekken|veranderen|herzien|verhogen|heroverwegen|weghalen|` +
		`aan\s+te\s+passen|te\s+wijzigen|te\s+verwijderen|bij\s+te\s+werken|in\s+te\s+trekken|te\s+veranderen|te\s+herzien|te\s+verhogen|te\s+heroverwegen|weg\s+te\s+halen|` +
		`aanpast|wijzigt|verwijdert|bijwerkt|intrekt|herziet|verhoogt|weghaalt|offline\s+(?:te\s+)?halen`,
	"O":   `[a-z0-9\-]*(?:recensies?|reviews?|beoordeling(?:en)?|reacties?|sterren|waardering|score)`,
	"DET": `uw|je|jouw`,
	"G2":  gap2,
}

// Words that end the clause a German or Dutch object belongs to: a verb after them belongs to
// another clause ("Ihre Bewertung nehmen wir ernst und werden den Versand anpassen").
var (
	deStop = words("und oder aber sowie wir ich weil da dass denn doch jedoch sondern um damit ist sind wird werden haben hat wurde wurden war es uns")
	nlStop = words("en of maar wij we ik omdat want dus zijn is hebben heeft worden wordt om zodat was werd ons")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// gapOK checks the words of submatch g: none ends the clause, none ends a sentence (a word
// with a full stop is an abbreviation only when short, "ggf.").
func gapOK(stop map[string]bool, g int) func(string, []int) bool {
	return func(s string, m []int) bool {
		if m[2*g] < 0 {
			return true
		}
		for _, w := range strings.Fields(s[m[2*g]:m[2*g+1]]) {
			if strings.HasSuffix(w, ".") && len(w) > 5 {
				return false
			}
			if stop[strings.TrimSuffix(w, ".")] {
				return false
			}
		}
		return true
	}
}

// notFollowedBy rejects a match whose next word is one of ws ("Bewertungen löschen wir nicht").
func notFollowedBy(ws map[string]bool) func(string, []int) bool {
	return func(s string, m []int) bool {
		rest := strings.Fields(s[m[1]:min(len(s), m[1]+20)])
		return len(rest) == 0 || !ws[strings.Trim(rest[0], ".,;:!?")]
	}
}

// aboutUsRe follows "cambiar su opinión" and "changer votre avis" when they mean changing one's
// mind about the business ("esperamos cambiar su opinión sobre nosotros"), not the review.
var aboutUsRe = lazy(`^\s*(?:(?:sobre|de|acerca\s+de)\s+(?:nosotros|nuestr[oa]s?)|sur\s+(?:nous|notre|nos)|a\s+notre\s+sujet)\b`)

func notAboutUs(s string, m []int) bool {
	w := s[m[0]:m[1]]
	if !strings.HasPrefix(w, "cambi") && !strings.HasPrefix(w, "chang") {
		return true
	}
	if !strings.HasSuffix(w, "opinion") && !strings.HasSuffix(w, "opiniones") && !strings.HasSuffix(w, "avis") {
		return true
	}
	return !aboutUsRe.MatchString(s[m[1]:min(len(s), m[1]+40)])
}

// notRequestRe, just before a request's words, says they are not a request: thanks for a change
// already made ("thank you for updating your review") or a refusal ("we cannot delete your
// review").
var notRequestRe = lazy(`(?:\bthanks?(?:\s+you)?(?:\s+(?:so|very)\s+much|\s+a\s+lot)?\s+for|\bappreciate\s+you|\bgrateful\s+(?:to\s+you\s+)?for|` +
	`\bcan't|\bcannot|\bcan\s+not|\bunable\s+to|\bnot\s+able\s+to|\b(?:not\s+)?possible\s+for\s+us\s+to|\bimpossible\s+to|\bwe\s+(?:don't|do\s+not|never)|` +
	`\bmerci(?:\s+beaucoup)?\s+(?:d'\s*avoir|de\s+nous\s+avoir|pour\s+avoir)|\b(?:ne\s+)?(?:pouvons|pouvez|peut|peux)\s+pas|\bimpossible\s+de|\bpas\s+possible\s+de|` +
	`\bgracias(?:\s+de\s+nuevo)?\s+por|\bagradecemos\s+(?:que|haber)|\bno\s+(?:podemos|puede|pueden|es\s+posible)|` +
	`\bdanke(?:\s+schon|\s+sehr)?(?:\s+fue?r|\s*,?\s+dass)|\bbedankt\s+(?:voor|dat)|\bdank\s+(?:u|je)\s+(?:wel\s+)?(?:voor|dat))` +
	`(?:\s+[a-z']+){0,2}?(?:\s+[a-z]+\s+(?:or|ou|oder|o|of))?\s*$`)

// requestRules find requests to change or remove the review, or to raise the rating.
var requestRules = []rule{
	// EN
	{lang: "en", reach: [2]int{70, 15}, need: enVerbs, re: compile(en, `\b(?:{V}|{VING})\s+{YOUR}\s+(?:own\s+)?{G3}(?:{O})\b`)},
	{lang: "en", reach: [2]int{70, 10}, need: enVerbs, re: compile(en, `\b(?:take|taking|pull|pulling)\s+(?:{YOUR}|the|this|that)\s+{G3}(?:{O})\s+down\b`)},
	{lang: "en", reach: [2]int{160, 15}, need: enVerbs, group: 1, re: compile(en, `\b(?:please|kindly|could\s+you|would\s+you|can\s+you|will\s+you|consider|ask\s+you\s+to|invite\s+you\s+to|encourage\s+you\s+to|if\s+you|hope\s+you|like\s+you\s+to|you\s+could|you\s+might|you\s+may|you\s+can|possible\s+to|possible\s+for\s+you\s+to|love\s+(?:it\s+)?(?:if|for)\s+you(?:\s+to)?|appreciate\s+it\s+if\s+you|grateful\s+if\s+you|mean\s+a\s+lot\s+if\s+you)\b[^.!?\n]{0,40}?\b((?:{V}|{VING})\s+(?:the|this|that|these|those)\s+{G3}(?:{O}))\b`)},
	{lang: "en", reach: [2]int{60, 15}, need: enRaise, re: compile(en, `\b(?:raise|raising|increase|increasing|improve|improving|bump\s+up|bumping\s+up|boost|boosting|upgrade|upgrading|up)\s+{YOUR}\s+{G2}(?:{OR})\b`)},
	{lang: "en", reach: [2]int{60, 15}, need: enRaise, re: compile(en, `\b(?:raise|raising|increase|increasing|bump\s+up|bumping\s+up|boost|boosting|up)\s+(?:the|those|that)\s+{G2}(?:{OR})\b`)},
	{lang: "en", reach: [2]int{60, 15}, need: []string{"star"}, re: compile(en, `\b(?:give|giving|leave|leaving|rate|rating|award|grant|send)\s+us\s+(?:a\s+|an\s+|the\s+)?(?:\d|five|four|full|more|higher|better|extra|top|max(?:imum)?|additional)\b[^.!?\n]{0,12}?\bstars?\b`)},
	{lang: "en", reach: [2]int{70, 15}, need: []string{"leav", "writ", "giv", "post"}, re: compile(en, `\b(?:leave|leaving|write|writing|give|giving|post|posting)\s+(?:us\s+)?(?:a|an)\s+(?:new\s+|more\s+)?(?:5|five|positive|good|better|glowing|great|favourable|favorable|nicer)(?:[\s\-]*stars?)?\s+(?:review|rating)\b`)},
	{lang: "en", reach: [2]int{70, 50}, need: enVerbs, re: compile(en, `\b(?:have|get|having|getting|see|want)\s+(?:{YOUR}|the|this|that)\s+{G3}(?:{O})\s+(?:{VED})\b`)},
	{lang: "en", reach: [2]int{10, 50}, need: enVerbs, re: compile(en, `\b(?:{O})\s+(?:could|can|might|would|may)\s+(?:(?:now|still|easily|also|simply|then|perhaps|maybe|possibly|always)\s+)?be\s+(?:{VED})\b`)},
	{lang: "en", reach: [2]int{100, 15}, need: enVerbs, group: 1, re: compile(en, `\b(?:once|after|when|if|as\s+soon\s+as)\s+you(?:'ve|\s+have|'d|\s+had)?\s+((?:{VED})\s+(?:{YOUR}|the|this|that)\s+{G3}(?:{O}))\b`)},

	// FR
	{lang: "fr", reach: [2]int{60, 15}, need: frVerbs, ok: notAboutUs, re: compile(fr, `\b(?:{V})\s+(?:{DET})\s+{G2}(?:{O})\b`)},
	{lang: "fr", reach: [2]int{140, 15}, need: frVerbs, group: 1, re: compile(fr, `\b(?:pourriez|pourrais|pouvez|pourrait|merci\s+de|invitons\s+a|invite\s+a|n'hesitez\s+pas\s+a|n'hesite\s+pas\s+a|reconnaissants?\s+de|si\s+vous|accepteriez|voudriez|veuillez|possible\s+de|souhaiteriez|serait-il)\b[^.!?\n]{0,40}?\b((?:{V})\s+(?:l'\s*|le\s+|la\s+|les\s+|cet\s+|cette\s+|ce\s+){G2}(?:{O}))\b`)},
	{lang: "fr", reach: [2]int{70, 15}, need: []string{"etoile"}, re: compile(fr, `\b(?:donner|mettre|attribuer|accorder|laisser|ajouter|donnez|mettez|attribuez|accordez|laissez|ajoutez)\s+(?:nous\s+)?(?:\d|cinq|quatre|plus\s+d'\s*|davantage\s+d'\s*)\s*etoiles?\b`)},
	{lang: "fr", reach: [2]int{60, 40}, need: []string{"laiss", "redig", "ecri", "publi"}, re: compile(fr, `\b(?:laisser|laissez|rediger|redigez|ecrire|ecrivez|publier|publiez)\s+(?:nous\s+)?un\s+(?:nouvel\s+|nouveau\s+|bon\s+)?(?:avis|commentaire)\s+(?:positif|favorable|elogieux|(?:a\s+)?(?:5|cinq)\s+etoiles)`)},
	{lang: "fr", reach: [2]int{10, 50}, need: []string{"soit", "etre"}, re: compile(fr, `\b(?:{O})\s+(?:soit|puisse\s+etre|pourrait\s+etre|peut\s+etre)\s+(?:modifiee?s?|retiree?s?|supprimee?s?|mise?s?\s+a\s+jour|changee?s?|revue?s?|corrigee?s?)\b`)},

	// DE: the verb comes last in requests ("Ihre Bewertung noch einmal zu überdenken").
	{lang: "de", reach: [2]int{60, 90}, need: deVerbs, ok: gapOK(deStop, 1), re: compile(de, `\b(?:{DET})\s+{G2}(?:{O})\b((?:\s+[a-z0-9\-]+\.?){0,4}?)\s+(?:{INF})\b`)},
	{lang: "de", reach: [2]int{80, 15}, need: deVerbs, re: compile(de, `\b(?:{IMP})\s+(?:sie|du)\s+(?:(?:bitte|doch|gerne|gern|einfach|noch\s+einmal|nochmal)\s+)*(?:{DET})\s+{G2}(?:{O})\b`)},
	{lang: "de", reach: [2]int{10, 60}, need: deVerbs, ok: notFollowedBy(words("wir ich kann konnen koennen darf durfen duerfen werden wird nicht ist sind war ware waere")), re: compile(de, `\b(?:{O})\s+(?:zu\s+)?(?:{INF})\b`)},
	{lang: "de", reach: [2]int{30, 40}, need: []string{"sterne"}, re: compile(de, `\b(?:\d|fue?nf|vier|mehr|volle)\s+sterne\s+(?:zu\s+)?(?:geben|vergeben|schenken|verleihen)\b`)},

	// ES
	{lang: "es", reach: [2]int{60, 15}, need: esVerbs, ok: notAboutUs, re: compile(es, `\b(?:{V})\s+(?:su|tu|sus|tus|vuestra|vuestras)\s+{G2}(?:{O})\b`)},
	{lang: "es", reach: [2]int{140, 15}, need: esVerbs, group: 1, re: compile(es, `\b(?:por\s+favor|podria|podrias|podrian|pedimos|rogamos|pedirle|pedirte|gustaria|si|considere|considera|invitamos\s+a|agradeceriamos|agradeceria|seria\s+posible)\b[^.!?\n]{0,40}?\b((?:{V})\s+(?:la|el|esta|este|dicha|dicho|las|los|esa|ese)\s+{G2}(?:{O}))\b`)},
	{lang: "es", reach: [2]int{10, 100}, need: esVerbs, group: 1, re: compile(es, `\b(?:resenas?|opinion|valoracion|calificacion|puntuacion|evaluacion)\b[^.!?\n]{0,60}?\b((?:modificar|cambiar|actualizar|eliminar|borrar|retirar|editar|quitar|reconsiderar|corregir)las?)\b`)},
	{lang: "es", reach: [2]int{60, 15}, need: []string{"estrellas"}, re: compile(es, `\b(?:dar|darnos|danos|denos|poner|ponernos|ponga|ponganos|pon|ponnos|otorgar|otorgarnos|dejar|dejarnos|dejenos)\s+(?:nos\s+)?(?:\d|cinco|cuatro|mas)\s+estrellas\b`)},
	{lang: "es", reach: [2]int{10, 50}, need: []string{"sea", "fuera", "ser"}, re: compile(es, `\b(?:{O})\s+(?:sea|fuera|pueda\s+ser|podria\s+ser)\s+(?:eliminad[ao]s?|modificad[ao]s?|actualizad[ao]s?|retirad[ao]s?|borrad[ao]s?|cambiad[ao]s?|editad[ao]s?)\b`)},

	// NL: the verb comes last too ("uw review aan te passen").
	{lang: "nl", reach: [2]int{60, 90}, need: nlVerbs, ok: gapOK(nlStop, 1), re: compile(nl, `\b(?:{DET})\s+(?:eigen\s+)?{G2}(?:{O})\b((?:\s+[a-z0-9\-]+\.?){0,4}?)\s+(?:{V})\b`)},
	{lang: "nl", reach: [2]int{90, 90}, need: nlVerbs, group: 1, ok: gapOK(nlStop, 2), re: compile(nl, `\b(?:u|je|jij)\b[^.!?\n]{0,30}?\b((?:de|deze|die)\s+{G2}(?:recensies?|reviews?|beoordeling(?:en)?|sterren|waardering|score)\b((?:\s+[a-z0-9\-]+\.?){0,4}?)\s+(?:{V}))\b`)},
	{lang: "nl", reach: [2]int{70, 15}, need: nlVerbs, re: compile(nl, `\b(?:wijzig|verwijder|pas|werk|trek|verander|herzie|verhoog|haal)\s+(?:(?:dan|alstublieft|aub|even|toch)\s+)*(?:{DET})\s+{G2}(?:{O})\b`)},
	{lang: "nl", reach: [2]int{30, 40}, need: []string{"sterren"}, re: compile(nl, `\b(?:\d|vijf|vier|meer)\s+sterren\s+(?:te\s+)?(?:geven|geeft|toekennen|toe\s+te\s+kennen)\b`)},
}

// objects are the stems of the words every request and exchange rule of a language contains;
// the rules run only around them.
var objects = map[string][]string{
	"en": {"review", "rating", "comment", "star", "score", "feedback", "testimonial"},
	"fr": {"avis", "note", "notation", "comment", "evaluation", "etoile", "critique", "appreciation", "temoignage"},
	"de": {"bewertung", "rezension", "sterne", "kommentar", "beurteilung", "review", "feedback"},
	"es": {"resena", "opinion", "valoracion", "comentario", "calificacion", "puntuacion", "estrella", "evaluacion", "review"},
	"nl": {"recensie", "review", "beoordeling", "reactie", "sterren", "waardering", "score"},
}

// objectWindows returns, per language, where its object words are.
func objectWindows(f *folded) map[string][]span {
	ws := make(map[string][]span, len(objects))
	for lang, words := range objects {
		ws[lang] = occurrences(f.s, words)
	}
	return ws
}

// needing returns the windows that contain one of the stems.
func needing(s string, ws []span, stems []string) []span {
	out := make([]span, 0, len(ws))
	for _, w := range ws {
		for _, st := range stems {
			if strings.Contains(s[w.a:w.b], st) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// findRequests finds requests to change or remove the review.
func findRequests(f *folded, ws map[string][]span) []hit {
	return applyRules(f, requestRules, ChangeRequest, ws)
}

// applyRules runs the rules, each in the windows its reach draws around its language's object
// words (objs nil: in the whole text).
func applyRules(f *folded, rules []rule, k Kind, objs map[string][]span) []hit {
	var out []hit
	for _, r := range rules {
		in := []span{{0, len(f.s)}}
		if objs != nil {
			if in = windows(f.s, objs[r.lang], r.reach[0], r.reach[1]); len(in) == 0 {
				continue
			}
		}
		if r.need != nil {
			in = needing(f.s, in, r.need)
			if len(in) == 0 {
				continue
			}
		}
		for _, m := range findIn(r.re, f.s, in, maxFindings) {
			if r.ok != nil && !r.ok(f.s, m) {
				continue
			}
			a, b := m[2*r.group], m[2*r.group+1]
			if a < 0 || a == b {
				continue
			}
			if k == ChangeRequest && notRequestRe.MatchString(f.s[max(0, a-60):a]) {
				continue
			}
			out = append(out, newHit(f, k, r.lang, a, b))
		}
	}
	return out
}

// Offers: what a business could give for a changed review. An offer counts as an incentive
// when it is in the sentence of a change request or the one before or after it.
var offerRules = []rule{
	{lang: "en", ok: offerEN, re: lazy(`\b(?:refunds?|refunded|refunding|reimburse(?:ment|d)?|vouchers?|coupons?|discounts?|gift\s*cards?|gifts?|free|freebies?|money|cash|compensation|compensate|store\s+credit|credits?|rewards?|cashback|cash\s+back|promo(?:tional)?\s+codes?|discount\s+codes?|bonus|perks?|\d+\s?%\s?off|in\s+exchange|in\s+return)\b|[€$£]\s?\d+|\b\d+(?:[.,]\d+)?\s?(?:[€$£]|(?:eur|euros?|pounds?|dollars?)\b)`)},
	{lang: "fr", re: lazy(`\b(?:bons?\s+d'\s*achat|bons?\s+de\s+reduction|remboursements?|rembourser|remboursee?s?|reductions?|geste\s+commercial|codes?\s+promo|cadeaux?|gratuite?s?|gratuitement|un\s+avoir|dedommagements?|dedommager|remises?|argent|cheques?\s+cadeaux?|cartes?\s+cadeaux?|compensations?|en\s+echange|en\s+contrepartie|en\s+retour)\b`)},
	{lang: "de", re: lazy(`\b(?:gutscheine?|gutscheincodes?|rabatte?|rabattcodes?|erstattung|erstatten|erstattet|rue?ckerstattung|zurue?ckerstatten|zurue?ckerstattet|gutschrift|geschenke?|kostenlose?[nrs]?|gratis|entschae?digung|geld|preisnachlass|vergue?tung|im\s+gegenzug|als\s+gegenleistung|dafue?r\s+erhalten)\b`)},
	{lang: "es", re: lazy(`\b(?:cupon(?:es)?|descuentos?|reembolsos?|reembolsar(?:le|te)?|reembolsad[oa]|regalos?|gratis|gratuit[oa]s?|compensacion|dinero|un\s+vale|vales?\s+(?:de|descuento)|bono|codigo\s+promocional|codigo\s+de\s+descuento|tarjeta\s+regalo|a\s+cambio|en\s+compensacion)\b`)},
	{lang: "nl", re: lazy(`\b(?:tegoedbon(?:nen)?|korting(?:scode)?|terugbetaling|terugbetalen|terugbetaald|cadeaubon(?:nen)?|cadeau|gratis|vergoeding|compensatie|geld|waardebon(?:nen)?|tegoed|restitutie|in\s+ruil|als\s+tegenprestatie)\b`)},
}

// offerEN drops the English offer words that are not offers: "feel free to", "free to",
// "credit card".
func offerEN(s string, m []int) bool {
	w := s[m[0]:m[1]]
	if w == "free" {
		before := s[max(0, m[0]-5):m[0]]
		after := s[m[1]:min(len(s), m[1]+4)]
		return !strings.HasSuffix(before, "feel ") && !strings.HasPrefix(after, " to ")
	}
	if strings.HasPrefix(w, "credit") {
		return !strings.HasPrefix(s[m[1]:min(len(s), m[1]+6)], " card")
	}
	return true
}

// conditionRules are incentives on their own: an exchange for the review, with or without a
// change request ("a voucher in exchange for a positive review").
var conditionRules = []rule{
	{lang: "en", reach: [2]int{90, 10}, need: []string{"exchange", "return"}, re: lazy(`\b(?:in\s+exchange\s+for|in\s+return\s+for)\b[^.!?\n]{0,40}?\b(?:reviews?|ratings?|stars?|feedback)\b`)},
	{lang: "fr", reach: [2]int{90, 10}, need: []string{"echange", "contrepartie"}, re: lazy(`\b(?:en\s+echange\s+d|en\s+contrepartie\s+d)[e'][^.!?\n]{0,40}?\b(?:avis|note|etoiles?|commentaire)\b`)},
	{lang: "de", reach: [2]int{90, 10}, need: []string{"gegenzug", "gegenleistung"}, re: lazy(`\b(?:im\s+gegenzug\s+fue?r|als\s+gegenleistung\s+fue?r)\b[^.!?\n]{0,40}?(?:bewertung(?:en)?|rezension|sterne)\b`)},
	{lang: "es", reach: [2]int{90, 10}, need: []string{"cambio"}, re: lazy(`\ba\s+cambio\s+de\b[^.!?\n]{0,40}?\b(?:resenas?|opinion|valoracion|estrellas|comentario)\b`)},
	{lang: "nl", reach: [2]int{90, 10}, need: []string{"ruil"}, re: lazy(`\bin\s+ruil\s+voor\b[^.!?\n]{0,40}?(?:recensie|review|beoordeling|sterren)\b`)},
}

// findIncentives finds offers next to a change request, and exchanges for the review.
func findIncentives(f *folded, requests []hit, ws map[string][]span) []hit {
	out := applyRules(f, conditionRules, Incentive, ws)
	if len(requests) == 0 {
		return out
	}
	sentences := sentenceStarts(f.orig)
	sentence := func(off int) int { return sort.SearchInts(sentences, off+1) }
	for _, o := range applyRules(f, offerRules, Incentive, nil) {
		so := sentence(o.start)
		for _, r := range requests {
			sa, sb := sentence(r.start), sentence(max(r.start, r.end-1))
			if so >= sa-1 && so <= sb+1 {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// sentenceStarts returns where sentences start: after . ! ? ; followed by a space, and after
// a line break; empty sentences do not count, so a blank line is one break.
func sentenceStarts(s string) []int {
	var starts []int
	content := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		end := c == '\n' || (strings.IndexByte(".!?;", c) >= 0 && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n' || s[i+1] == '\r' || s[i+1] == '"' || s[i+1] == ')'))
		if end {
			if content {
				starts = append(starts, i+1)
			}
			content = false
		} else if c != ' ' && c != '\t' && c != '\r' {
			content = true
		}
	}
	return starts
}
