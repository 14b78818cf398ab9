package gorgias

// DecodeCreateAnswer reads a create answer the way CreateTicket does, for the decode benchmark.
func DecodeCreateAnswer(data []byte) (Ticket, error) {
	var w createdTicket
	err := decode(data, &w)
	return w.ticket(), err
}
