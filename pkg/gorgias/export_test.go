package gorgias

// DecodeCreateAnswer reads a create answer the way CreateTicket does, for the decode benchmark.
func DecodeCreateAnswer(data []byte) (Ticket, error) {
	var w createdTicket
	err := decode(data, &w)
	return w.ticket(), err
}

// DecodeTicketUpdates reads a ticket list the way ListTicketsUpdated does, for the decode benchmark.
func DecodeTicketUpdates(data []byte) ([]TicketUpdate, error) {
	var p updatesPage
	err := decode(data, &p)
	return p.updates(), err
}
