package notify

import (
	"fmt"
	"time"

	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// render returns the subject (email only) and text of m, with code in a
// verification message.
func render(m *userinfo.Message, code string) (subject, text string) {
	at := m.At.UTC().Format("2006-01-02 15:04 UTC")
	valid := minutes(max(time.Minute, m.ExpiresAt.Sub(m.At)))
	origin := fmt.Sprintf("at %s from %s (request %s)", at, m.SourceIP, m.RequestID)
	switch m.Kind {
	case userinfo.MsgVerifyEmail:
		return "Confirm your new email address",
			fmt.Sprintf("Your code to confirm this email address for your IAM user is %s. It is valid for %s.\n\n"+
				"The change was requested %s. If you did not request it, ignore this message: nothing changes without the code.",
				code, valid, origin)
	case userinfo.MsgVerifyMobile:
		return "", fmt.Sprintf("IAM verification code: %s (valid %s). If you did not request it, ignore this message.", code, valid)
	case userinfo.MsgEmailChangeRequested:
		return "A change of your email address was requested",
			fmt.Sprintf("A change of your IAM user's email address to %s was requested %s. "+
				"It takes effect only once confirmed with the code sent to the new address.\n\n"+
				"If this was not you, contact your administrator: someone may hold your credentials.",
				m.NewValue, origin)
	default: // userinfo.MsgEmailChanged
		return "Your email address was changed",
			fmt.Sprintf("Your IAM user's email address was changed to %s %s.\n\n"+
				"If this was not you, contact your administrator: someone may hold your credentials.",
				m.NewValue, origin)
	}
}

// minutes says d rounded to the minute: "15 minutes", "1 minute".
func minutes(d time.Duration) string {
	n := int(d.Round(time.Minute) / time.Minute)
	if n == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}
